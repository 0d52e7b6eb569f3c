"""Several hosts and the blue-green strategy on the test world's two hosts: host A (sshd on
2222, the machine's engine) and host B (sshd on 2223, its own engine; ports on 127.0.0.2).

- a failing canary leaves the next host untouched (containers, lock, history);
- a blue-green deploy and an instant rollback under load: hey loses nothing, the
  non-retrying generator's count is reported (0 asserted through HAProxy), the two versions
  are never served side by side, the rollback starts no container and its switch is timed;
- status and history show what happened; image retention removed an old tag and kept the
  one the idle colour runs.
Ports 18600-18699.
"""
from __future__ import annotations

import io
import itertools
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from bluegreen_action.engine import DeployOptions, default_env
from bluegreen_action.fleet import deploy_fleet, rollback_fleet
from bluegreen_action.history import Origin
from bluegreen_action.report import Reporter
from bluegreen_action.rollback import HostCommandOptions
from bluegreen_action.ssh import SshTarget
from testworld.hey import Hey
from testworld.load import LoadGenerator

from . import deploying

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]

_ports = itertools.count(18600)
ORIGIN = Origin("pytest@test-fleet")


def hosts(world, *which: str) -> list[SshTarget]:
    b = world.host_b
    known = {"a": (world.host, world.port), "b": (b.host, b.port)}
    return [SshTarget(*known[w], world.user, world.client_key, b.known_hosts_all) for w in which]


def fleet_deploy(world, compose: Path, tag: str, project: str, app: str, which, keep_images=0,
                 **kw):
    opts = DeployOptions(target=hosts(world, which[0])[0], compose_file=compose, apps=(app,),
                         tag=tag, project_name=project, env=default_env(), **kw)
    out = io.StringIO()
    fleet = deploy_fleet(opts, hosts(world, *which), Reporter(stream=out, verbose=True), ORIGIN,
                         keep_images)
    fleet.log = out.getvalue()
    print(fleet.log)
    return fleet


def fleet_rollback(world, compose: Path, project: str, app: str, which):
    opts = HostCommandOptions(target=hosts(world, which[0])[0], compose_file=compose, apps=(app,),
                              project_name=project, env=default_env(), origin=ORIGIN)
    out = io.StringIO()
    fleet = rollback_fleet(opts, hosts(world, *which), Reporter(stream=out, verbose=True))
    fleet.log = out.getvalue()
    print(fleet.log)
    return fleet


def run_cli(world, *args: str) -> tuple[int, str]:
    return deploying.run_cli(world, *args, known_hosts=world.host_b.known_hosts_all)


def containers(engine_docker, project: str) -> dict[str, tuple[str, str, str]]:
    """name -> (id, image, started at) of the project's containers on one engine."""
    p = engine_docker("ps", "-a", "--filter", f"label=com.docker.compose.project={project}",
                      "--format", "{{.Names}}")
    names = p.stdout.split()
    if not names:
        return {}
    fmt = "{{.Name}} {{.Id}} {{.Config.Image}} {{.State.StartedAt}}"
    lines = engine_docker("inspect", "-f", fmt, *names).stdout.splitlines()
    return {n.lstrip("/"): (i, img, s) for n, i, img, s in (line.split() for line in lines)}


def runs_of_versions(report: dict, straggle: float = 0.2) -> list[str]:
    """The versions that answered, in order, each run once. A short run of the old version
    that ends within `straggle` seconds after the new one began answers requests that were
    already in flight at the switch: it is not two versions being served."""
    runs = [dict(s) for s in report["version_sequence"]]
    changed = True
    while changed:
        changed = False
        for i in range(1, len(runs) - 1):
            before, x, after = runs[i - 1], runs[i], runs[i + 1]
            if before["version"] == after["version"] != x["version"] and x["count"] <= 10 \
                    and x["last"] - before["first"] <= straggle:
                before.update(last=after["last"], count=before["count"] + after["count"])
                del runs[i:i + 2]
                changed = True
                break
    return [r["version"] for r in runs]


@pytest.fixture
def world(world):
    """Both hosts must be able to run one compose file (its published port) side by side."""
    if not world.host_b.available:
        pytest.skip("the test world's host B (sshd 2223, its own dockerd) is not running: "
                    "see the `[world]` lines of `python -m testworld up`")
    if not world.host_b.publish_ip:
        pytest.skip("the test world's host B cannot publish the ports host A publishes on this "
                    "Docker Engine (>= 28 binds them in the daemon): see testworld/host_b.py")
    return world


@pytest.fixture
def cleanup(world):
    made: list[tuple[Path, str]] = []
    yield made
    for compose, project in made:
        world.compose(compose.parent, "down", "-v", "--remove-orphans", "-t", "1",
                      project=project, check=False)
        world.host_b.compose(compose, "down", "-v", "--remove-orphans", "-t", "1",
                             project=project, check=False)
        for docker in (world.docker, world.host_b.docker):   # the project's deploy history
            docker("run", "--rm", "--network", "none", "-v", "bluegreen-history:/h",
                   "--entrypoint", "rm", world.app_image("v1"), "-f", f"/h/{project}.jsonl",
                   check=False)


def test_a_failing_canary_leaves_the_next_host_untouched(world, tmp_path, cleanup):
    port = next(_ports)
    app, project = f"zf{port}", f"bgfleet{port}"
    compose = world.render_stack("article", tmp_path / app, app=app, port=port, tag="v1",
                                 boot_delay=1)
    cleanup.append((compose, project))
    first = fleet_deploy(world, compose, "v1", project, app, "ab")
    assert [r.status for r in first.runs] == ["success", "success"], first.log
    on_b = containers(world.host_b.docker, project)
    assert {img for _, img, _ in on_b.values() if "sample-app" in img} == {world.app_image("v1")}

    fleet = fleet_deploy(world, compose, "broken", project, app, "ab", health_timeout=6)

    assert [r.status for r in fleet.runs] == ["rolled-back", "skipped"], fleet.log
    assert [r.role for r in fleet.runs] == ["canary", "next"]
    assert fleet.runs[1].result is None and "the 1 remaining host is left untouched" in fleet.log
    assert containers(world.host_b.docker, project) == on_b          # not one container touched
    assert world.host_b.docker("ps", "-aq", "--filter", f"name=bluegreen-lock-{project}").stdout == ""
    served_a = containers(world.docker, project)
    assert served_a[f"{app}-blue"][1] == served_a[f"{app}-green"][1] == world.app_image("v1")

    a, b = f"{world.host}:{world.port}", world.host_b.address
    code, out = run_cli(world, "history", "--hosts", f"{a},{b}", "--compose-file", str(compose),
                        "--project-name", project)
    host_a, host_b = out.split(f"deploy@{b}")
    assert code == 0 and "v1 -> broken" in host_a and "rolled-back" in host_a
    assert "(none) -> v1" in host_b and "broken" not in host_b
    code, out = run_cli(world, "status", "--hosts", f"{a},{b}", "--services", app,
                        "--compose-file", str(compose), "--project-name", project)
    assert code == 0 and out.count("rolling: both colours serve\n") == 2
    rows = re.findall(rf"^  (blue|green) +{app}-(?:blue|green) +(\S+) +running, healthy .* routed$",
                      out, re.M)
    assert [tag for _, tag in rows] == ["v1"] * 4, out
    assert "rolled-back" in out.split(f"deploy@{b}")[0]        # host A's last entry


@pytest.mark.parametrize("kind", ["article", "haproxy"])
def test_blue_green_deploy_and_instant_rollback_under_load(world, tmp_path, cleanup, kind):
    port = next(_ports)
    app, project = f"zg{port}", f"bggreen{port}"
    compose = world.render_stack(kind, tmp_path / app, app=app, port=port, tag="v1",
                                 boot_delay=3)
    cleanup.append((compose, project))
    first = fleet_deploy(world, compose, "v1", project, app, "b", strategy="blue-green")
    assert first.result == "success" and first.first.routed == {app: ["blue"]}, first.log
    world.host_b.docker("pull", "-q", world.app_image("v3"))   # an old tag retention removes
    url = world.host_b.url(port)

    with Hey(url, duration=60, concurrency=10, rate=10) as hey, \
            LoadGenerator(url, concurrency=10, rate=200, duration=60) as load:
        time.sleep(1)
        t0 = time.monotonic()
        deployed = fleet_deploy(world, compose, "v2", project, app, "b", strategy="blue-green",
                                keep_images=1)
        deploy_wall = time.monotonic() - t0
        time.sleep(1.5)
        before = containers(world.host_b.docker, project)
        t0 = time.monotonic()
        rolled = fleet_rollback(world, compose, project, app, "b")
        rollback_wall = time.monotonic() - t0
        time.sleep(1.5)
    print("hey:", hey.report)
    print(load.summary)

    d, r = deployed.first, rolled.first
    assert d.result == "success" and d.routed == {app: ["green"]}, deployed.log
    assert r.result == "success", rolled.log
    assert (r.tag, r.previous_tag, r.colour) == ("v1", "v2", "blue")
    assert r.routed == {app: ["blue"]}
    assert containers(world.host_b.docker, project) == before     # the rollback started nothing
    print(f"MEASURED {kind}: blue-green deploy {d.seconds:.2f}s (wall {deploy_wall:.2f}s), "
          f"rollback switch {r.switch_seconds:.3f}s (wall {rollback_wall:.2f}s); "
          f"hey failed {hey.report['failed']} of {hey.report['sent']}; non-retrying failed "
          f"{load.report['failed']} of {load.report['sent']} {load.report['failure_kinds']}; "
          f"versions {runs_of_versions(load.report)}")
    assert r.switch_seconds < 1.0
    assert d.seconds < 20
    assert hey.report["failed"] == 0 and hey.report["ok"] > 100, hey.report
    assert load.report["sent"] > 500
    # HAProxy's runtime API and Caddy's flag files switch without a reload: not one request
    # fails, even for a client that never retries
    assert load.report["failed"] == 0, load.report["failure_kinds"]
    assert runs_of_versions(load.report) == ["v1", "v2", "v1"]     # never two at once

    images = world.host_b.docker("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    assert world.app_image("v1") in images and world.app_image("v2") in images
    assert world.app_image("v3") not in images, "retention keeps 1 tag + what containers use"
    assert "removed 127.0.0.1:5000/sample-app:v3" in deployed.log

    b = world.host_b.address
    code, out = run_cli(world, "status", "--host", b, "--services", app, "--compose-file",
                        str(compose), "--project-name", project)
    assert code == 0
    assert "blue-green: blue is live (v1), green waits idle (v2)" in out
    assert "lock:  free" in out and "rollback v2 -> v1 success by pytest@test-fleet" in out
    code, out = run_cli(world, "history", "--host", b, "--compose-file", str(compose),
                        "--project-name", project)
    lines = out.splitlines()
    assert "rollback" in lines[2] and "v2 -> v1" in lines[2]
    assert "deploy (blue-green)" in lines[3] and "v1 -> v2" in lines[3] and "success" in lines[3]
    assert "(none) -> v1" in lines[4]


def run_action(world, workdir: Path, files: Path, name: str, **inputs) -> tuple[int, str, dict, str]:
    """`python entrypoint.py` as the Action runs it; returns (exit code, log, outputs, summary)."""
    env = {k: v for k, v in default_env().items() if not k.startswith(("INPUT_", "GITHUB_"))}
    env.update({f"INPUT_{k.upper()}": v for k, v in inputs.items()})
    env.update({"GITHUB_OUTPUT": str(files / f"{name}.out"),
                "GITHUB_STEP_SUMMARY": str(files / f"{name}.md"), "GITHUB_REPOSITORY": "acme/shop",
                "GITHUB_RUN_ID": "4242", "GITHUB_ACTOR": "octo", "GITHUB_WORKFLOW": "deploy"})
    p = subprocess.run([sys.executable, str(ROOT / "entrypoint.py")], env=env, cwd=workdir,
                       capture_output=True, text=True, timeout=300)
    print(p.stdout[-5000:], p.stderr[-2000:])
    found = re.findall(r"^(\S+)<<(ghadelimiter_\S+)\n(.*?)\n\2$",
                       (files / f"{name}.out").read_text(), re.S | re.M)
    summary = (files / f"{name}.md").read_text()
    folder = Path(os.environ.get("BLUEGREEN_SUMMARY_DIR", "/var/tmp/bluegreen-world/summaries"))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"fleet-{name}.md").write_text(summary)      # for a person to look at
    return p.returncode, p.stdout + p.stderr, {k: v for k, _, v in found}, summary


def test_the_action_deploys_several_hosts_blue_green_and_rolls_back(world, tmp_path, cleanup):
    port = next(_ports)
    app, project = f"zh{port}", f"bgaction{port}"
    compose = world.render_stack("article", tmp_path / "ws" / "deploy", app=app, port=port,
                                 tag="v1", boot_delay=1)
    cleanup.append((compose, project))
    files = tmp_path / "files"
    files.mkdir()
    a, b = f"{world.host}:{world.port}", world.host_b.address
    common = {"hosts": f"{a}\n{b}", "user": world.user, "ssh-key": world.client_key.read_text(),
              "known-hosts": world.host_b.known_hosts_all.read_text(), "services": app,
              "compose-file": "deploy/compose.yaml", "project-name": project,
              "strategy": "blue-green", "keep-images": "0", "health-timeout": "60"}
    for tag in ("v1", "v2"):
        code, log, out, summary = run_action(world, tmp_path / "ws", files, tag, tag=tag, **common)
        assert code == 0, log
    hosts_out = json.loads(out["hosts"])
    assert [(h["host"], h["role"], h["result"], h["previous-tag"], h["tag"]) for h in hosts_out] == [
        (f"deploy@{a}", "canary", "success", "v1", "v2"), (f"deploy@{b}", "next", "success", "v1", "v2")]
    assert summary.startswith("### ✅ Deployed `v2` to 2 hosts")
    assert summary.count("#### Deploy history of") == 2 and "[octo (deploy)](" in summary

    code, log, out, summary = run_action(world, tmp_path / "ws", files, "rollback",
                                         command="rollback", **common)
    assert code == 0, log
    assert out["result"] == "success" and out["tag"] == "v1" and out["previous-tag"] == "v2"
    assert 0 < float(out["switch-seconds"]) < 1
    assert summary.startswith("### ⏪ Rolled back 2 hosts: `v1` serves again")
    assert "rolled back: v1 serves again on" in log
    for url in (f"http://127.0.0.1:{port}/", world.host_b.url(port)):
        assert json.loads(urllib.request.urlopen(url, timeout=5).read())["version"] == "v1"
