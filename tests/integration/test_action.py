"""The GitHub Action as the runner runs it: the image built from the repository's Dockerfile,
`docker run` with the runner's mounts, variables and working directory, against the test
world's server (sshd on loopback) with load running through the proxy.

The runner starts a container action like this (its mounts and names shortened):

    docker run --rm --workdir /github/workspace -e INPUT_HOST -e INPUT_SSH-KEY ... \
      -e HOME -e GITHUB_OUTPUT -e GITHUB_STEP_SUMMARY ... \
      -v _temp/_github_home:/github/home -v _temp/_runner_file_commands:/github/file_commands \
      -v work/repo/repo:/github/workspace IMAGE

with `-e NAME` (no value: taken from the runner's environment, so no secret is in argv).
Here `--network host` is added so that the container reaches the test server at
127.0.0.1:2222 and the registries at 127.0.0.1:5000/5001; on GitHub the server is remote.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from testworld.action_image import ensure_action_image
from testworld.common import free_port, local_env
from testworld.hey import Hey
from testworld.load import LoadGenerator

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
CONNECTIONS = 10


@pytest.fixture(scope="module")
def image(world):
    return ensure_action_image()


class Workspace:
    """A checked-out repository (the workspace) and the runner's file-commands folder."""

    def __init__(self, world, root: Path):
        self.world = world
        self.port = free_port()
        self.app = f"gha{self.port}"
        self.project = f"gha-{uuid.uuid4().hex[:8]}"
        self.dir = root / "workspace"
        self.home = root / "home"
        self.files = root / "file_commands"
        for d in (self.home, self.files):
            d.mkdir(parents=True)
        compose = world.render_stack("article", self.dir / "deploy", app=self.app, port=self.port,
                                     tag="v1", boot_delay=2)
        # the app's images come from the registry that needs a login
        text = compose.read_text().replace(f"{world.registry}/sample-app:",
                                           f"{world.auth_registry}/sample-app:")
        compose.write_text(text)
        self.url = f"http://127.0.0.1:{self.port}/"
        self.runs = 0

    def inputs(self, **given) -> dict[str, str]:
        w = self.world
        base = {"host": w.host, "port": str(w.port), "user": w.user,
                "ssh-key": w.client_key.read_text(), "known-hosts": w.known_hosts.read_text(),
                "tag": "v2", "services": self.app, "compose-file": "deploy/compose.yaml",
                "project-name": self.project, "health-timeout": "60", "drain-timeout": "10",
                "registry": w.auth_registry, "registry-username": w.auth_user,
                "registry-password": w.auth_password}
        base.update(given)
        return {f"INPUT_{k.upper()}": v for k, v in base.items()}

    def _file_names(self):
        self.runs += 1
        return f"set_output_{self.runs}", f"step_summary_{self.runs}"

    def docker_run(self, image: str, timeout=240, **given):
        """The runner's `docker run`; returns (exit code, log, outputs, summary)."""
        out_name, summary_name = self._file_names()
        env = {**local_env(), **self.inputs(**given)}
        env.update({"GITHUB_OUTPUT": f"/github/file_commands/{out_name}",
                    "GITHUB_STEP_SUMMARY": f"/github/file_commands/{summary_name}",
                    "GITHUB_WORKSPACE": "/github/workspace", "GITHUB_REPOSITORY": "acme/shop",
                    "HOME": "/github/home", "GITHUB_ACTIONS": "true", "CI": "true"})
        names = sorted(k for k in env if k.startswith("INPUT_")) + [
            "HOME", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_WORKSPACE",
            "GITHUB_REPOSITORY", "GITHUB_ACTIONS", "CI"]
        argv = ["docker", "run", "--rm", "--network", "host", "--workdir", "/github/workspace"]
        for name in names:
            argv += ["-e", name]                  # the value comes from env, as the runner does
        argv += ["-v", f"{self.home}:/github/home", "-v", f"{self.files}:/github/file_commands",
                 "-v", f"{self.dir}:/github/workspace", image]
        assert not any(env[k] in " ".join(argv) for k in ("INPUT_SSH-KEY", "INPUT_REGISTRY-PASSWORD"))
        p = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
        return self._result(p, out_name, summary_name)

    def local_run(self, timeout=240, **given):
        """`python entrypoint.py` from the workspace folder, with the same INPUT_* variables."""
        out_name, summary_name = self._file_names()
        env = {**local_env(), **self.inputs(**given),
               "GITHUB_OUTPUT": str(self.files / out_name),
               "GITHUB_STEP_SUMMARY": str(self.files / summary_name),
               "GITHUB_REPOSITORY": "acme/shop"}
        env.pop("GITHUB_WORKSPACE", None)
        p = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), str(ROOT / "entrypoint.py")],
                           env=env, cwd=self.dir, capture_output=True, text=True, timeout=timeout)
        return self._result(p, out_name, summary_name)

    def _result(self, p, out_name, summary_name):
        log = p.stdout + p.stderr
        print(log[-6000:])
        outputs = {}
        if (self.files / out_name).exists():
            found = re.findall(r"^(\S+)<<(ghadelimiter_\S+)\n(.*?)\n\2$",
                               (self.files / out_name).read_text(), re.S | re.M)
            outputs = {name: value for name, _, value in found}
        summary_path = self.files / summary_name
        summary = summary_path.read_text() if summary_path.exists() else ""
        return p.returncode, log, outputs, summary

    def containers(self) -> dict[str, tuple[str, str]]:
        """service -> (image reference it was created from, container id) on the server."""
        ids = self.world.docker("ps", "-aq", "--filter",
                                f"label=com.docker.compose.project={self.project}").stdout.split()
        if not ids:
            return {}
        p = self.world.docker("inspect", "-f", '{{index .Config.Labels "com.docker.compose.service"}} '
                              "{{.Config.Image}} {{.Id}}", *ids)
        return {line.split()[0]: tuple(line.split()[1:]) for line in p.stdout.strip().splitlines()}

    def app_tags(self) -> set[str]:
        return {image.rsplit(":", 1)[1] for image, _ in self.containers().values()
                if "sample-app" in image}

    def down(self):
        self.world.compose(self.dir / "deploy", "down", "-v", "--remove-orphans", "-t", "1",
                           project=self.project, check=False)


@pytest.fixture(scope="module")
def workspace(world, tmp_path_factory):
    ws = Workspace(world, tmp_path_factory.mktemp("action"))
    yield ws
    ws.down()


def save_summary(name: str, summary: str) -> None:
    """Kept for a person to look at (docs/action.md: how to render them)."""
    folder = Path(os.environ.get("BLUEGREEN_SUMMARY_DIR", "/var/tmp/bluegreen-world/summaries"))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.md").write_text(summary)


def assert_secrets_absent(ws: Workspace, *texts: str) -> None:
    """Secrets appear nowhere but in the `::add-mask::` commands (which the runner hides)."""
    key_body = ws.world.client_key.read_text().splitlines()[1]
    for text in texts:
        text = "\n".join(ln for ln in text.splitlines() if not ln.startswith("::add-mask::"))
        assert key_body not in text and ws.world.auth_password not in text


def test_first_deploy_then_v2_under_load(image, workspace):
    ws = workspace
    code, log, outputs, summary = ws.docker_run(image, tag="v1")
    assert code == 0, log
    assert outputs["result"] == "success" and outputs["previous-tag"] == ""

    target = ws.url
    with Hey(target, duration=60, concurrency=CONNECTIONS, rate=10) as hey, \
            LoadGenerator(target, concurrency=CONNECTIONS, rate=200, duration=60) as load:
        code, log, outputs, summary = ws.docker_run(image, tag="v2")
    print("hey:", hey.report)
    print("non-retrying:", load.summary)
    print(f"ACTION v1->v2 under load: hey {hey.report['failed']} failed of {hey.report['sent']}; "
          f"non-retrying {load.report['failed']} failed of {load.report['sent']} "
          f"{load.report['failure_kinds']}; action {outputs.get('duration-seconds')}s")
    save_summary("success", summary)

    assert code == 0, log
    assert hey.report["failed"] == 0 and hey.report["sent"] > 100, hey.report
    # the first deploy prepared Caddy's flag-file switching: no reload, so not even a client
    # that never retries loses a request
    assert load.report["failed"] == 0, load.report["failure_kinds"]
    assert set(load.report["versions"]) <= {"v1", "v2"}

    assert outputs["result"] == "success" and outputs["tag"] == "v2"
    assert outputs["previous-tag"] == "v1" and outputs["project"] == ws.project
    assert 0 < float(outputs["duration-seconds"]) < 120 and outputs["exit-code"] == "0"
    assert outputs["error"] == ""
    assert '"new": "127.0.0.1:5001/sample-app:v2"' in outputs["images"]
    assert ws.app_tags() == {"v2"}

    # the log: masks first, one group per phase, the login, commands switched back on
    lines = log.splitlines()
    assert lines[0].startswith("::add-mask::")
    groups = [ln[len("::group::"):] for ln in lines if ln.startswith("::group::")]
    assert groups[0] == f"Log in to {ws.world.auth_registry}"
    assert "Replace blue" in groups and "Replace green" in groups
    assert lines.count("::endgroup::") == len(groups)
    assert not log.rstrip().splitlines()[-1].startswith("::stop-commands::")

    assert summary.startswith(f"### ✅ Deployed `v1` → `v2` to `{ws.project}` on ")
    assert f"| 🔵 blue | `{ws.app}-blue`" in summary and "✅ receives traffic" in summary
    assert "#### Timeline" in summary and "| ✅ |" in summary
    assert_secrets_absent(ws, log, summary, str(outputs))


def test_bad_input_exits_2_names_it_and_changes_nothing(image, workspace):
    ws = workspace
    before = ws.containers()
    code, log, outputs, summary = ws.docker_run(image, tag="v3", port="twenty-two")
    assert code == 2
    assert re.search(r"^::error title=Invalid input `port`::input `port`: 'twenty-two' is not a TCP "
                     r"port%0AExpected: a number from 1 to 65535", log, re.M), log
    assert "Connect to" not in log and "Log in to" not in log
    assert outputs["result"] == "failed" and outputs["exit-code"] == "2"
    assert "nothing was changed" in summary
    assert ws.containers() == before


def test_broken_version_rolls_back_and_says_why(image, workspace):
    ws = workspace
    code, log, outputs, summary = ws.docker_run(image, tag="broken", **{"health-timeout": "8"})
    save_summary("rolled-back", summary)
    assert code == 6, log
    assert outputs["result"] == "rolled-back" and outputs["previous-tag"] == "v2"
    assert "did not become healthy" in outputs["error"]
    assert "::error title=Deploy failed and was rolled back::" in log
    assert summary.startswith("### ⏪ Deploy of `broken`") and "`v2` still serves" in summary
    assert "<details open><summary>Evidence" in summary and "healthy=False" in summary
    assert "**What to do:**" in summary
    assert ws.app_tags() == {"v2"}


def test_a_failing_pre_deploy_command_switches_nothing(image, workspace):
    """The `pre-deploy` input, through the image: migrations that fail stop the deploy
    before any traffic moves; the summary says why and what to do."""
    ws = workspace
    code, log, outputs, summary = ws.docker_run(
        image, tag="v3", **{"pre-deploy": "sh -c 'echo migrating to $APP_VERSION; "
                                          "echo relation users does not exist >&2; exit 4'"})
    save_summary("pre-deploy-failed", summary)
    assert code == 6, log
    assert "::group::Run the pre-deploy command" in log and "| migrating to v3" not in log
    assert "::group::Replace" not in log
    assert outputs["result"] == "failed" and "pre-deploy command" in outputs["error"]
    assert "failed (exit 4); no traffic was switched" in outputs["error"]
    assert "relation users does not exist" in summary and "**What to do:**" in summary
    assert ws.app_tags() == {"v2"}


def test_python_entrypoint_behaves_like_the_container(image, workspace):
    """The same inputs, dry run, both ways: same outputs and the same summary (times aside)."""
    ws = workspace
    if not (ROOT / ".venv" / "bin" / "python").exists() or not shutil.which("docker"):
        pytest.skip("needs the project's .venv")
    c_code, c_log, c_out, c_summary = ws.docker_run(image, tag="v3", **{"dry-run": "true"})
    l_code, l_log, l_out, l_summary = ws.local_run(tag="v3", **{"dry-run": "true"})
    assert c_code == l_code == 0, (c_log, l_log)
    for out in (c_out, l_out):   # times differ run to run: compare everything else
        assert out.pop("duration-seconds")
        hosts = json.loads(out.pop("hosts"))
        assert [h.pop("seconds") >= 0 for h in hosts] == [True]
        out["hosts"] = hosts
    assert c_out == l_out and c_out["result"] == "dry-run" and c_out["previous-tag"] == "v2"

    def timeless(text):
        return re.sub(r"\d+(\.\d+)? s\b|\d+ min \d+ s", "T", text)
    assert timeless(c_summary) == timeless(l_summary)
    assert "📝 Dry run" in c_summary and "#### Plan" in c_summary

    def steps(log):   # the log's groups and annotations, in order
        return [ln.split("::")[1] if ln.startswith("::group::") else ln
                for ln in log.splitlines() if re.match(r"::(group|error|warning)", ln)]
    assert steps(c_log) == steps(l_log)
