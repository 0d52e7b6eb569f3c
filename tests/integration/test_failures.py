"""Failure safety on the real test world, with hey and the non-retrying generator
running through the proxy the whole time: a release that never becomes healthy, one that
crashes at boot, a colour that fails after traffic was switched, Caddy restarted during a
deploy, a deploy killed half-way, and bad input that must change nothing on the server."""
from __future__ import annotations

import pytest

from .failing import Load, RouteWatch, make_stack

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
