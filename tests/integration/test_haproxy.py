"""HAProxy-specific paths on the real test world: a version that never passes its health
check is never put in service, and the rollback loses nothing either."""
from __future__ import annotations

import pytest

from bluegreen_action.haproxy_router import parse_servers_state
from testworld.load import LoadGenerator

from .deploying import deploy, next_port, versions_served

pytestmark = pytest.mark.integration


def runtime(world, container, command):
    """One runtime API command from inside the proxy container, as the router sends it."""
    script = ('exec 3<>/dev/tcp/127.0.0.1/9999; printf "%s\\n" "$1" >&3; '
              'while IFS= read -r l <&3 || [ -n "$l" ]; do printf "%s\\n" "$l"; done')
    return world.docker("exec", container, "bash", "-c", script, "bash", command).stdout


def test_a_broken_version_is_never_routed_and_the_rollback_loses_nothing(world, tmp_path):
    port = next_port("haproxy")
    app, project = f"z{port}", f"bghaproxy{port}"
    compose = world.render_stack("haproxy", tmp_path / app, app=app, port=port, tag="v1")
    try:
        assert deploy(world, compose, "v1", project, apps=(app,)).result == "success"
        with LoadGenerator(f"http://127.0.0.1:{port}/", method="POST", concurrency=10, rate=200,
                           duration=60) as load:
            result = deploy(world, compose, "broken", project, apps=(app,), health_timeout=8)
        print(load.summary)
        assert result.result == "rolled-back", result.log
        assert load.report["failed"] == 0, load.report["failures"]
        assert set(load.report["versions"]) == {"v1"}          # `broken` never answered
        served = versions_served(world, project, compose)
        assert served[f"{app}-blue"] == served[f"{app}-green"] == world.app_image("v1")
        assert result.routed == {app: ["blue", "green"]}
        states = parse_servers_state(runtime(world, f"{app}-haproxy", "show servers state"))
        assert all(s.routed and s.healthy for s in states), states
    finally:
        world.compose(compose.parent, "down", "-v", "--remove-orphans", "-t", "1",
                      project=project, check=False)
