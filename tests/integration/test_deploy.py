"""Real deploys on the test world (sshd on loopback as the server, real Docker Engine,
Compose, Caddy, registry) with load running through the proxy the whole time."""
from __future__ import annotations

import pytest

from testworld.hey import Hey
from testworld.load import LoadGenerator

from .deploying import deploy, next_port, versions_served

pytestmark = pytest.mark.integration


@pytest.fixture
def stack(world, tmp_path, request):
    """A stack of the given kind, first deployed with v1 by bluegreen itself."""
    made = []

    def make(kind: str, boot_delay: float = 3):
        port = next_port(kind)
        app = f"z{port}"   # container names are global on the host: one app per test
        compose = world.render_stack(kind, tmp_path / app, app=app, port=port, tag="v1",
                                     boot_delay=boot_delay)
        project = f"bg{kind}{port}"
        made.append((compose, project))
        first = deploy(world, compose, "v1", project, apps=(app,))
        assert first.result == "success", first.log
        return compose, project, f"http://127.0.0.1:{port}/", app

    yield make
    for compose, project in made:
        world.compose(compose.parent, "down", "-v", "--remove-orphans", "-t", "1",
                      project=project, check=False)


def deploy_under_load(world, compose, project, url, method="GET", path=None, tag="v2",
                      hey_rate=10, gen_rate=200, **kw):
    target = url.rstrip("/") + (path or "/")
    with Hey(target, duration=60, concurrency=CONNECTIONS, rate=hey_rate, method=method) as hey, \
            LoadGenerator(url, method=method, concurrency=CONNECTIONS, rate=gen_rate, duration=60,
                          path=path) as load:
        result = deploy(world, compose, tag, project, apps=(kw.pop("app"),), **kw)
    print("hey:", hey.report)
    print(load.summary)
    return result, hey.report, load.report


CONNECTIONS = 10


@pytest.mark.parametrize("kind", ["article", "nested", "haproxy"])
def test_v1_to_v2_under_get_load_loses_nothing_and_ends_on_v2(world, stack, kind):
    compose, project, url, app = stack(kind)
    result, hey, load = deploy_under_load(world, compose, project, url, app=app)
    assert result.result == "success", result.log
    assert hey["failed"] == 0 and hey["ok"] > 500, hey
    assert load["sent"] > 1000
    # HAProxy's runtime API and Caddy's flag files switch without a reload: not one request
    # fails, even for a client that never retries
    assert load["failed"] == 0, load["failure_kinds"]
    served = versions_served(world, project, compose)
    assert served[f"{app}-blue"] == served[f"{app}-green"] == world.app_image("v2")
    # one version at a time: once v2 has answered, no request sent after that is answered by
    # v1 (answers to requests already in flight at the switch may still arrive a moment later)
    assert load["versions"]["v1"]["last_sent"] <= load["versions"]["v2"]["first"], load["versions"]
    assert result.previous_tag == "v1" and result.routed == {app: ["blue", "green"]}


@pytest.mark.parametrize("kind", ["article", "haproxy"])
def test_requests_in_flight_during_the_switch_complete(world, stack, kind):
    compose, project, url, app = stack(kind)
    with LoadGenerator(url, concurrency=8, rate=4, duration=60, path="/sleep?ms=3000") as slow:
        result = deploy(world, compose, "v2", project, apps=(app,))
    print(slow.summary)
    assert result.result == "success", result.log
    assert slow.report["sent"] >= 20
    assert slow.report["failed"] == 0, slow.report["failure_kinds"]
    assert "drained in" in result.log
    drained = [float(line.split("drained in ")[1].rstrip("s")) for line in result.log.splitlines()
               if "drained in" in line]
    assert max(drained) > 0.5, "a 3 s request was in flight: the drain must have waited for it"


@pytest.mark.parametrize("kind", ["nested", "haproxy"])
def test_post_requests_throughout_a_deploy(world, stack, kind):
    compose, project, url, app = stack(kind)
    result, hey, load = deploy_under_load(world, compose, project, url, method="POST", app=app)
    assert result.result == "success", result.log
    assert hey["failed"] == 0 and hey["ok"] > 500, hey
    assert load["failed"] == 0, load["failure_kinds"]
