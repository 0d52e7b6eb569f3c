"""Failure safety on the real test world, with hey and the non-retrying generator
running through the proxy the whole time: a release that never becomes healthy, one that
crashes at boot, a colour that fails after traffic was switched, Caddy restarted during a
deploy, a deploy killed half-way, and bad input that must change nothing on the server."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import docker.errors
import pytest
import yaml

from testworld.common import wait_for

from .failing import (
    ENTRYPOINT,
    CliDeploy,
    FStack,
    Load,
    RouteWatch,
    cli_argv,
    cli_env,
    custom_caddy_stack,
    local_docker,
    make_stack,
    run_cli,
    snapshot,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def stacks(world, tmp_path):
    made = []

    def make(**kw):
        s = make_stack(world, tmp_path, **kw)
        made.append(s)
        return s
    yield make
    for s in made:
        s.down()


def assert_rolled_back_to_v1(stack, result, watch, load):
    assert result.result == "rolled-back", result.log
    assert result.error.rolled_back and result.error.exit_code == 6
    assert stack.served() == {f"{stack.app}-blue": stack.image("v1"),
                              f"{stack.app}-green": stack.image("v1"),
                              f"{stack.app}-caddy": stack.served()[f"{stack.app}-caddy"]}
    assert result.routed == {stack.app: ["blue", "green"]}
    assert watch.samples >= 5 and watch.violations == [], watch.violations
    assert load.hey.report["failed"] == 0, load.hey.report
    assert load.gen.report["version_sequence"][-1]["version"] == "v1"


def test_a_release_that_never_becomes_healthy_or_crashes_at_boot_is_rolled_back(stacks):
    stack = stacks(kind="article")
    with Load(stack.url) as load, RouteWatch(stack) as watch:
        broken = stack.deploy("broken", health_timeout=6)
    load.line("never healthy")
    assert_rolled_back_to_v1(stack, broken, watch, load)
    text = str(broken.error)
    assert "did not become healthy within 6s" in text
    assert f"health checks of {stack.app}-blue" in text and "500" in text
    assert f"last log lines of {stack.app}-blue" in text and "healthy=False" in text
    assert "rolled back to the previous version" in text

    with Load(stack.url) as load, RouteWatch(stack) as watch:
        crash = stack.deploy("crash", health_timeout=30)
    load.line("crash at boot")
    assert_rolled_back_to_v1(stack, crash, watch, load)
    text = str(crash.error)
    assert "stopped while starting" in text
    assert "cannot read /etc/app/config.toml" in text


def test_a_failure_after_traffic_was_switched_ends_consistent(stacks):
    """sick-green: blue becomes healthy on it and gets all the traffic, then green never
    does. Both colours go back to v1, the unrouted one first; Caddy never routes to a
    container that is not running and healthy."""
    stack = stacks(kind="article", colour_env=True)
    with Load(stack.url) as load, RouteWatch(stack) as watch:
        result = stack.deploy("sick-green", health_timeout=6)
    load.line("second colour fails")
    print("routes seen:", watch.seen)
    assert_rolled_back_to_v1(stack, result, watch, load)
    log = result.log
    assert any(line.endswith("traffic → blue") for line in log.splitlines())
    assert f"{stack.app}-green did not become healthy" in str(result.error)
    # the rollback replaced green (unrouted) first, then blue
    rollback = log[log.index("Roll back"):]
    assert rollback.index("Roll back: Replace green") < rollback.index("Roll back: Replace blue")
    served_versions = {r["version"] for r in load.gen.report["version_sequence"]}
    assert served_versions == {"v1", "sick-green"}
    assert frozenset({f"{stack.app}-blue"}) in {routes for _, routes in watch.seen}


def test_caddy_restarted_while_a_deploy_waits_on_health(world, stacks):
    """`docker restart` of the proxy while blue boots: Caddy comes back with its Caddyfile's
    routes (both colours, blue still booting); the deploy notices, applies its routes
    again and completes."""
    stack = stacks(kind="nested", boot_delay=4)
    argv = stack.deploy_argv("v2", "--health-timeout", "60")
    with Load(stack.url) as load, RouteWatch(stack) as watch:
        run = CliDeploy(argv)
        run.wait_for_line(f"recreated {stack.app}-blue")
        t0 = time.time()
        local_docker().containers.get(stack.proxy).restart(timeout=5)
        t1 = time.time()
        code = run.wait()
    load.line("caddy restarted")
    print(f"docker restart took {t1 - t0:.2f}s; routes seen: {watch.seen}")
    assert code == 0, run.output
    assert "applying them again" in run.output
    assert stack.served()[f"{stack.app}-blue"] == stack.served()[f"{stack.app}-green"] == stack.image("v2")
    assert stack.routed() == {f"{stack.app}-blue", f"{stack.app}-green"}
    # Caddy comes back routing to both colours, as its Caddyfile says, blue still booting
    # (the nested stack's Caddyfile retries a refused dial on green) until the deploy
    # applies its routes again: no later sample may see that.
    late_routes = [v for v in watch.violations if float(v.split("s:")[0]) > t1 - watch.t0 + 3]
    print("restart window:", watch.violations)
    assert late_routes == [], watch.violations
    # While Caddy itself restarts, requests fail whatever the deploy does (connections
    # refused or closed, now and then a 502 from the Caddy that is stopping or starting):
    # those are the restart's. Outside that window the non-retrying client (whose failures
    # are timestamped) sees nothing but the closures of the one reload that puts the
    # deploy's routes back; hey, which retries those, at most the window's requests.
    hey, gen = load.hey.report, load.gen.report
    print("non-retrying failures, seconds after the restart began:",
          [(round(gen["started_at"] + f["t"] - t0, 2), f["kind"][:30]) for f in gen["failures"]])
    outside = [f for f in gen["failures"]
               if not t0 - 0.5 <= gen["started_at"] + f["t"] <= t1 + 1.0]
    assert all(f["kind"].startswith(RELOAD_CLOSURES) for f in outside), \
        (outside, t0 - gen["started_at"], t1 - gen["started_at"])
    assert hey["failed"] <= HEY_RATE * (t1 - t0 + 1.5), hey


# What a client that never retries sees when Caddy reloads its config (every admin-API
# change): its idle keep-alive connection closed under its next request.
RELOAD_CLOSURES = ("RemoteDisconnected", "ConnectionResetError", "BrokenPipeError")
HEY_RATE = 100      # Load's hey: 10 connections x 10 requests/s


def test_a_deploy_killed_half_way_is_completed_by_the_next(world, stacks):
    """SIGKILL right after traffic moved to blue alone (blue on v2, green still v1): the
    lock it leaves is seen dead and broken, and the next deploy replaces green (the idle
    colour) first. Then the same with Caddy restarted after the kill, back on its
    Caddyfile's routes (both colours, two versions side by side): the next deploy ends
    with both on the new version."""
    stack = stacks(kind="article")
    blue, green = f"{stack.app}-blue", f"{stack.app}-green"
    with Load(stack.url) as load, RouteWatch(stack) as watch:
        killed = CliDeploy(stack.deploy_argv("v2"))
        killed.wait_for_line("traffic → blue")
        killed.kill()
        assert killed.wait() == -signal.SIGKILL
        assert stack.routed() == {blue}
        assert stack.served()[blue] == stack.image("v2") and stack.served()[green] == stack.image("v1")
        status = run_cli(stack.lock_argv("status"))
        assert status.returncode == 5 and "the holder is dead" in status.stdout
        again = stack.deploy("v2")
    load.line("killed after the switch, then deployed again")
    assert again.result == "success", again.log
    assert f"breaking the deploy lock of {stack.project} left by" in again.log
    assert f"{stack.app}: traffic goes to blue\n" in again.log
    assert again.log.index("Replace green") < again.log.index("Replace blue")   # the idle one
    assert stack.served()[blue] == stack.served()[green] == stack.image("v2")
    assert again.routed == {stack.app: ["blue", "green"]}
    assert watch.violations == [] and load.hey.report["failed"] == 0, load.hey.report

    killed = CliDeploy(stack.deploy_argv("v3"))
    killed.wait_for_line("traffic → blue")
    killed.kill()
    killed.wait()
    local_docker().containers.get(stack.proxy).restart(timeout=5)

    def back_on_its_caddyfile():
        try:
            return stack.routed() == {blue, green}
        except (RuntimeError, docker.errors.APIError):    # still restarting
            return False
    wait_for(back_on_its_caddyfile, 15, "Caddy routing both colours after its restart")
    assert stack.served()[blue] == stack.image("v3") and stack.served()[green] == stack.image("v2")
    with Load(stack.url) as load, RouteWatch(stack) as watch:
        again = stack.deploy("v3")
    load.line("killed, Caddy restarted, deployed again")
    assert again.result == "success", again.log
    assert stack.served()[blue] == stack.served()[green] == stack.image("v3")
    assert again.routed == {stack.app: ["blue", "green"]}
    assert watch.violations == [] and load.hey.report["failed"] == 0, load.hey.report
    assert load.gen.report["version_sequence"][-1]["version"] == "v3"


# -- bad input: a clear message naming the problem and the fix, a non-zero exit, no change on
# the server (the project's containers and Caddy's whole config as before, no lock left), no
# secret in the output. Through the `bluegreen` CLI, sharing stacks, under one load.
WRONG_PASSWORD = "wr0ng-Passw0rd-4-test"


@dataclass
class BadInput:
    world: object
    stack: FStack            # up on v1, under load through all the cases
    no_route: FStack         # Caddy proxies to something else than the app
    admin_off: FStack        # Caddy with `admin off`
    files: dict[str, Path]
    load: Load

    def argv(self, stack=None, tag="v2", services=None, compose=None, **kw) -> list[str]:
        stack = stack or self.stack
        return cli_argv(self.world, "deploy", "--tag", tag, "--services", services or stack.app,
                        "--compose-file", str(compose or stack.compose), "--project-name",
                        stack.project, "--lock-timeout", "5", **kw)

    def secrets(self) -> list[str]:
        """What must never be printed: both passwords, every line of both private keys."""
        keys = [line for k in (self.world.client_key, self.files["wrong_key"])
                for line in k.read_text().splitlines() if line and "PRIVATE KEY" not in line]
        return [WRONG_PASSWORD, self.world.auth_password, *keys]


@pytest.fixture(scope="module")
def bad(world, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bad")
    stack = make_stack(world, tmp, kind="article")
    no_route = custom_caddy_stack(world, tmp, ":8080 {\n\treverse_proxy legacy-backend:8000\n}\n")
    admin_off = custom_caddy_stack(world, tmp, "{\n\tadmin off\n}\n:8080 {\n\treverse_proxy "
                                   "{{app}}-blue:8000 {{app}}-green:8000\n}\n")
    files = {}
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp / "wrong_key")],
                   check=True)
    files["wrong_key"] = tmp / "wrong_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp / "other_host")],
                   check=True)
    files["other_known_hosts"] = tmp / "other_known_hosts"
    files["other_known_hosts"].write_text(
        f"[{world.host}]:{world.port} " + (tmp / "other_host.pub").read_text())
    text = stack.compose.read_text()
    files["invalid_yaml"] = tmp / "invalid.yaml"
    files["invalid_yaml"].write_text(text.replace("    restart: always\n",
                                                  "    restart: always\n   healthcheck: [\n", 1))
    data = yaml.safe_load(text)
    del data["services"][f"{stack.app}-green"]
    files["blue_only"] = tmp / "blue-only.yaml"
    files["blue_only"].write_text(yaml.safe_dump(data))
    data = yaml.safe_load(text)
    del data["services"][f"{stack.app}-caddy"]
    files["no_proxy"] = tmp / "no-proxy.yaml"
    files["no_proxy"].write_text(yaml.safe_dump(data))
    with Load(stack.url, duration=240) as load, Load(admin_off.url, duration=240) as load2:
        yield BadInput(world, stack, no_route, admin_off, files, load)
    load.line("bad input, main stack")
    load2.line("bad input, stack with admin off")
    for s in (stack, no_route, admin_off):
        s.down()
    assert load.hey.report["failed"] == 0 and load2.hey.report["failed"] == 0
    assert load.gen.report["failed"] == 0 and load2.gen.report["failed"] == 0


def case(name, exit_code, says, argv=lambda b: b.argv(), stdin=None, stack="stack"):
    return pytest.param(argv, stdin, exit_code, says, stack, id=name)


BAD_INPUTS = [
    case("unknown-host-key", 3, ["the host key of 127.0.0.1:2222 is not in known-hosts",
                                 "ssh-keyscan -p 2222 127.0.0.1"],
         lambda b: b.argv(known_hosts=b.files["other_known_hosts"])),
    case("wrong-ssh-key", 3, ["the server refused the SSH key for deploy@127.0.0.1:2222",
                              "authorized_keys"],
         lambda b: b.argv(key=b.files["wrong_key"])),
    case("unreachable-port", 3, ["cannot reach 127.0.0.1:18599 over SSH", "check `host` and `port`"],
         lambda b: b.argv(port=18599)),
    case("unreachable-host", 3, ["cannot reach 127.0.0.3:2222 over SSH", "check `host` and `port`"],
         lambda b: b.argv(host="127.0.0.3")),
    case("user-without-docker", 3, ["nodocker on 127.0.0.1 may not use Docker",
                                    "sudo usermod -aG docker nodocker"],
         lambda b: b.argv(user="nodocker")),
    case("compose-file-missing", 2, ["not found", "set compose-file to the path"],
         lambda b: b.argv(compose=b.files["invalid_yaml"].parent / "missing.yaml")),
    case("invalid-yaml", 2, ["is not valid YAML", "fix the YAML syntax at the line shown"],
         lambda b: b.argv(compose=b.files["invalid_yaml"])),
    case("service-missing", 2, ["service `nosuch-blue` not found",
                                "needs two services, `nosuch-blue` and `nosuch-green`"],
         lambda b: b.argv(services="nosuch")),
    case("blue-without-green", 2, ["-green` not found", "a YAML anchor and `<<: *"],
         lambda b: b.argv(compose=b.files["blue_only"])),
    case("illegal-tag", 2, ["tag 'v2;reboot' is not a valid image tag", "use letters, digits"],
         lambda b: b.argv(tag="v2;reboot")),
    case("tag-not-in-registry", 2, ["127.0.0.1:5000/sample-app:v99 is not in the registry",
                                    "push that tag first"],
         lambda b: b.argv(tag="v99")),
    case("wrong-registry-password", 2, ["the registry 127.0.0.1:5001 refused registry-username `ci`",
                                        "check the secret behind registry-password"],
         lambda b: b.argv() + ["--registry", "127.0.0.1:5001", "--registry-username", "ci",
                               "--registry-password-stdin"],
         stdin=WRONG_PASSWORD + "\n"),
    case("no-proxy-service", 2, ["cannot tell which service is the reverse proxy",
                                 "set proxy-service (--proxy-service)"],
         lambda b: b.argv(compose=b.files["no_proxy"])),
    case("no-reverse-proxy-for-the-service", 4, ["Caddy has no reverse_proxy to", "legacy-backend:8000",
                                                 "in the Caddyfile"],
         lambda b: b.argv(stack=b.no_route), stack="no_route"),
    case("admin-api-unreachable", 4, ["Caddy's admin API did not answer", "do not set `admin off`"],
         lambda b: b.argv(stack=b.admin_off), stack="admin_off"),
]


@pytest.mark.parametrize("argv, stdin, exit_code, says, stack", BAD_INPUTS)
def test_bad_input_is_refused_clearly_and_changes_nothing(bad, argv, stdin, exit_code, says, stack):
    target = getattr(bad, stack)
    before = snapshot(target)
    p = run_cli(argv(bad), input=stdin)
    out = p.stdout + p.stderr
    assert p.returncode == exit_code, out
    for text in says:
        assert text in out, f"{text!r} not in:\n{out}"
    assert "Fix:" in out or "fix:" in out
    assert "Traceback" not in out
    assert snapshot(target) == before
    for secret in bad.secrets():
        assert secret not in out


# -- secrets: never in any process's argv, never left on disk -----------------------------------
class ProcScanner:
    """Reads /proc/*/cmdline of every process on the machine, over and over until stopped,
    looking for secrets; also the environment of the deploy's descendants (the front door
    itself gets the Action's inputs in its environment from the runner, by design)."""

    def __init__(self, secrets: list[str], root_pid: int):
        self.secrets = [s.encode() for s in secrets if len(s) >= 8]
        self.root = root_pid
        self.scans = 0
        self.processes: set[int] = set()
        self.found: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _descendant(self, pid: int) -> bool:
        for _ in range(50):
            try:
                ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                return False
            if ppid == self.root:
                return True
            if ppid <= 1:
                return False
            pid = ppid
        return False

    def _run(self):
        while not self._stop.is_set():
            for d in Path("/proc").iterdir():
                if not d.name.isdigit():
                    continue
                pid = int(d.name)
                self.processes.add(pid)
                try:
                    argv = (d / "cmdline").read_bytes()
                    env = (d / "environ").read_bytes() if pid != self.root and \
                        self._descendant(pid) else b""
                except OSError:
                    continue
                for s in self.secrets:
                    if s in argv:
                        self.found.append(f"argv of {pid}: {argv[:120]!r}")
                    if s in env:
                        self.found.append(f"environment of {pid} ({argv[:60]!r})")
            self.scans += 1
            time.sleep(0.02)

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=30)


def test_secrets_are_never_in_argv_and_never_left_on_disk(world, stacks, tmp_path):
    """Images on the registry that needs a login: the Action (python entrypoint.py, the key
    and the password in INPUT_* as the runner passes them) deploys v1, then the CLI
    (--ssh-key file, --registry-password-stdin) deploys v2; meanwhile every process's argv
    is scanned for the password and the key's lines. Each run's temporary folder (TMPDIR)
    is empty afterwards: no key, no docker config, no SSH folder."""
    stack = stacks(kind="article", first_tag=None)
    stack.compose.write_text(stack.compose.read_text().replace(
        f"{world.registry}/sample-app:", f"{world.auth_registry}/sample-app:"))
    key = world.client_key.read_text()
    secrets = [world.auth_password, key] + [line for line in key.splitlines()
                                            if "PRIVATE KEY" not in line]
    tmp = Path(tempfile.mkdtemp(prefix="bgs-", dir="/tmp"))      # short: ssh socket paths
    env = stack.action_env("v1", tmp_path, registry=world.auth_registry,
                           **{"registry-username": world.auth_user,
                              "registry-password": world.auth_password})
    env["TMPDIR"] = str(tmp)
    try:
        action = subprocess.Popen(ENTRYPOINT, env=env,
                                  cwd=stack.compose.parent, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
        scan = ProcScanner(secrets, action.pid)
        out, _ = action.communicate(timeout=180)
        scan.stop()
        print(out)
        assert action.returncode == 0, out
        assert os.listdir(tmp) == [], os.listdir(tmp)
        assert scan.found == [] and scan.scans > 20, scan.found
        shown = "\n".join(line for line in out.splitlines()   # the runner hides these lines
                           if not line.startswith("::add-mask::"))
        for s in secrets:
            assert s not in shown
        action_scans = scan.scans

        with Load(stack.url) as load:
            cli = CliDeploy(stack.deploy_argv("v2", "--registry", world.auth_registry,
                                              "--registry-username", world.auth_user,
                                              "--registry-password-stdin"),
                            env=cli_env(TMPDIR=str(tmp)), input=world.auth_password + "\n")
            scan = ProcScanner([world.auth_password], cli.proc.pid)
            code = cli.wait()
            scan.stop()
        load.line("deploy from a private registry")
        assert code == 0, cli.output
        assert os.listdir(tmp) == [], os.listdir(tmp)
        assert scan.found == [] and scan.scans > 20, scan.found
        assert world.auth_password not in cli.output
        assert stack.served()[f"{stack.app}-blue"] == f"{world.auth_registry}/sample-app:v2"
        assert load.hey.report["failed"] == 0
        print(f"argv scans: {action_scans} during the Action's deploy, {scan.scans} during the "
              f"CLI's; {len(scan.processes)} processes seen")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
