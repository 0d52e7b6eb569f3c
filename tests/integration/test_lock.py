"""The deploy lock on the real test world, through the `bluegreen` CLI as users run it, with
hey and the non-retrying generator going through the proxy: a second deploy waits, a third
with a short lock-timeout gives up naming the holder; SIGTERM stops a deploy in order
(lock given back, traffic on a healthy colour, no temporary file left); a lock whose holder
cannot be judged is reported, and broken only on request."""
from __future__ import annotations

import os
import signal
import tempfile
import time
from pathlib import Path

import pytest

from bluegreen_action.lock import DeployLock, Holder

from .failing import (
    ENTRYPOINT,
    CliDeploy,
    Load,
    RouteWatch,
    cli_env,
    local_docker,
    make_stack,
    run_cli,
    snapshot,
)

pytestmark = pytest.mark.integration

GITHUB = {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "acme/shop",
          "GITHUB_RUN_ID": "4242", "GITHUB_ACTOR": "ana"}


@pytest.fixture(scope="module")
def stack(world, tmp_path_factory):
    s = make_stack(world, tmp_path_factory.mktemp("lock"), kind="article")
    yield s
    s.down()
    DeployLock(local_docker(), None, s.project).break_("test teardown")


def test_a_second_deploy_waits_and_a_third_gives_up_naming_the_holder(world, stack):
    with Load(stack.url) as load, RouteWatch(stack) as watch:
        first = CliDeploy(stack.deploy_argv("v2"), env=cli_env(**GITHUB))
        first.wait_for_line("taken by")
        second = CliDeploy(stack.deploy_argv("v3", "--lock-timeout", "120"))
        t0 = time.monotonic()
        third = run_cli(stack.deploy_argv("v3", "--lock-timeout", "1"))
        third_took = time.monotonic() - t0
        second.wait_for_line("another deploy holds the lock")
        assert first.wait() == 0
        assert second.wait() == 0
    load.line("three deploys at once")
    out = third.stdout + third.stderr
    assert third.returncode == 5, out
    assert "another deploy holds the lock of " + stack.project in out
    assert "https://github.com/acme/shop/actions/runs/4242 (by ana) (tag v2, started " in out
    assert "bluegreen lock release" in out and "break-lock: true" in out
    assert third_took < 15
    # the second took the lock only once the first had given it back, then deployed v3
    assert "taken by https://github.com/acme/shop/actions/runs/4242" in first.output
    assert second.output.index("another deploy holds the lock") < second.output.index("taken by")
    assert stack.served()[f"{stack.app}-blue"] == stack.served()[f"{stack.app}-green"] == stack.image("v3")
    assert watch.violations == [] and load.hey.report["failed"] == 0, load.hey.report
    assert run_cli(stack.lock_argv("status")).returncode == 0


@pytest.mark.parametrize("front_door", ["cli", "action"])
def test_sigterm_gives_the_lock_back_and_leaves_traffic_on_a_healthy_colour(world, stack, front_door,
                                                                           tmp_path):
    tmp = Path(tempfile.mkdtemp(prefix="bgt-", dir="/tmp"))    # short: ssh's socket paths
    if front_door == "cli":
        argv, env = stack.deploy_argv("v2"), cli_env(TMPDIR=str(tmp))
    else:
        argv, env = ENTRYPOINT, {**stack.action_env("v2", tmp_path), "TMPDIR": str(tmp)}
    try:
        with Load(stack.url) as load, RouteWatch(stack) as watch:
            run = CliDeploy(argv, env=env, cwd=stack.compose.parent)
            run.wait_for_line(f"recreated {stack.app}-blue")    # blue boots, green serves
            run.signal(signal.SIGTERM)
            t0 = time.monotonic()
            code = run.wait(timeout=30)
            stop_took = time.monotonic() - t0
            routed_after = stack.routed()
        load.line("SIGTERM")
        print(f"stopped {stop_took:.1f}s after SIGTERM")
        assert code == 128 + signal.SIGTERM, run.output
        assert stop_took < 5, "GitHub sends SIGKILL 10 s after its first signal"
        assert "image retention" not in run.output     # no after-deploy work on a cancel
        assert "cancelled: traffic goes to green" in run.output
        assert "cancelled (SIGTERM)" in run.output
        assert routed_after == {f"{stack.app}-green"}
        assert watch.violations == [] and load.hey.report["failed"] == 0, load.hey.report
        status = run_cli(stack.lock_argv("status"))
        assert status.returncode == 0 and ": free" in status.stdout
        assert os.listdir(tmp) == [], "the SSH folder of the cancelled deploy was left behind"
    finally:
        os.rmdir(tmp)
    # the next deploy finishes the job, blue (the idle colour) first
    with Load(stack.url) as load, RouteWatch(stack) as watch:
        again = stack.deploy("v2")
    load.line("deploy after SIGTERM")
    assert again.result == "success", again.log
    assert again.log.index("Replace blue") < again.log.index("Replace green")
    assert stack.served()[f"{stack.app}-blue"] == stack.served()[f"{stack.app}-green"] == stack.image("v2")
    assert watch.violations == [] and load.hey.report["failed"] == 0


def test_a_lock_that_cannot_be_judged_is_reported_and_broken_only_on_request(world, stack):
    """A lock with no process to check (taken without SSH here, as an older version or a
    server with hidepid would leave it) counts as held: the deploy gives up naming it and
    changes nothing; `lock status` shows it, `lock release` or --break-lock remove it."""
    stale = Holder(who="https://github.com/acme/shop/actions/runs/99", tag="v9",
                   started="2025-01-01T10:00:00Z", client="gone-runner pid 1", user="deploy")
    DeployLock(local_docker(), None, stack.project).acquire(stale, 0)
    before = snapshot(stack)
    refused = run_cli(stack.deploy_argv("v1", "--lock-timeout", "2"))
    out = refused.stdout + refused.stderr
    assert refused.returncode == 5, out
    assert "https://github.com/acme/shop/actions/runs/99 (tag v9, started 2025-01-01T10:00:00Z" in out
    assert f"bluegreen lock release --host {world.host} --port {world.port}" in out
    assert snapshot(stack) == before

    dry = run_cli(stack.deploy_argv("v1", "--dry-run"))
    assert dry.returncode == 0 and "held by https://github.com/acme/shop/actions/runs/99" in dry.stdout
    status = run_cli(stack.lock_argv("status"))
    assert status.returncode == 5 and "the holder is unknown" in status.stdout
    released = run_cli(stack.lock_argv("release"))
    assert released.returncode == 0 and "released" in released.stdout
    assert "runs/99" in released.stdout
    assert run_cli(stack.lock_argv("status")).returncode == 0

    DeployLock(local_docker(), None, stack.project).acquire(stale, 0)
    with Load(stack.url) as load:
        broke = run_cli(stack.deploy_argv("v1", "--lock-timeout", "0", "--break-lock"))
    load.line("--break-lock")
    assert broke.returncode == 0, broke.stdout
    assert "breaking the deploy lock of " + stack.project + " held by https://github.com/acme/shop" \
        "/actions/runs/99" in broke.stdout
    assert load.hey.report["failed"] == 0
    assert run_cli(stack.lock_argv("status")).returncode == 0
