"""Failure safety on the real test world, with hey and the non-retrying generator
running through the proxy the whole time: a release that never becomes healthy, one that
crashes at boot, a colour that fails after traffic was switched, Caddy restarted during a
deploy, a deploy killed half-way, and bad input that must change nothing on the server."""
from __future__ import annotations

import signal
import time

import pytest

from .failing import CliDeploy, Load, RouteWatch, cli_argv, local_docker, make_stack, run_cli

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
    argv = cli_argv(world, "deploy", "--tag", "v2", "--services", stack.app, "--compose-file",
                    str(stack.compose), "--project-name", stack.project, "--health-timeout", "60")
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
    # While the proxy itself is down nobody can connect: those failures are the restart's,
    # and they are the only ones (no 502 from a booting colour once Caddy is back).
    hey, gen = load.hey.report, load.gen.report
    assert set(hey["status_counts"]) == {200}, hey
    assert all(k.endswith(("EOF", "connection refused")) or "connection reset" in k
               for k in hey["errors"]), hey["errors"]
    outside = [f for f in gen["failures"]
               if not t0 - 0.5 <= gen["started_at"] + f["t"] <= t1 + 1.0]
    assert all(f["kind"].startswith(RELOAD_CLOSURES) for f in outside), \
        (outside, t0 - gen["started_at"], t1 - gen["started_at"])


# What a client that never retries sees when Caddy reloads its config (every admin-API
# change): its idle keep-alive connection closed under its next request.
RELOAD_CLOSURES = ("RemoteDisconnected", "ConnectionResetError", "BrokenPipeError")


def test_a_deploy_killed_half_way_is_completed_by_the_next(world, stacks):
    """SIGKILL right after traffic moved to blue alone (blue on v2, green still v1): the
    lock it leaves is seen dead and broken, and the next deploy replaces green (the idle
    colour) first. Then the same with Caddy restarted after the kill, back on its
    Caddyfile's routes (both colours, two versions side by side): the next deploy ends
    with both on the new version."""
    stack = stacks(kind="article")
    blue, green = f"{stack.app}-blue", f"{stack.app}-green"
    status_argv = cli_argv(world, "lock", "status", "--project-name", stack.project)
    with Load(stack.url) as load, RouteWatch(stack) as watch:
        killed = CliDeploy(deploy_argv(world, stack, "v2"))
        killed.wait_for_line("traffic → blue")
        killed.kill()
        assert killed.wait() == -signal.SIGKILL
        assert stack.routed() == {blue}
        assert stack.served()[blue] == stack.image("v2") and stack.served()[green] == stack.image("v1")
        status = run_cli(status_argv)
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

    killed = CliDeploy(deploy_argv(world, stack, "v3"))
    killed.wait_for_line("traffic → blue")
    killed.kill()
    killed.wait()
    local_docker().containers.get(stack.proxy).restart(timeout=5)
    wait_until(lambda: stack.routed() == {blue, green}, 15)
    assert stack.served()[blue] == stack.image("v3") and stack.served()[green] == stack.image("v2")
    with Load(stack.url) as load, RouteWatch(stack) as watch:
        again = stack.deploy("v3")
    load.line("killed, Caddy restarted, deployed again")
    assert again.result == "success", again.log
    assert stack.served()[blue] == stack.served()[green] == stack.image("v3")
    assert again.routed == {stack.app: ["blue", "green"]}
    assert watch.violations == [] and load.hey.report["failed"] == 0, load.hey.report
    assert load.gen.report["version_sequence"][-1]["version"] == "v3"


def deploy_argv(world, stack, tag, *extra):
    return cli_argv(world, "deploy", "--tag", tag, "--services", stack.app, "--compose-file",
                    str(stack.compose), "--project-name", stack.project, *extra)


def wait_until(condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return
        except Exception:   # noqa: BLE001 - e.g. the proxy still restarting
            pass
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)
