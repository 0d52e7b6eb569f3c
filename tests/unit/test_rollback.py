import io
from pathlib import Path

import pytest

from bluegreen_action.colors import Color
from bluegreen_action.errors import DeployError
from bluegreen_action.history import Origin
from bluegreen_action.remote_docker import ContainerState
from bluegreen_action.report import Reporter
from bluegreen_action.rollback import HostCommandOptions, Rollback
from bluegreen_action.ssh import SshTarget
from bluegreen_action.stack import read_stack

B, G = Color.BLUE, Color.GREEN
COMPOSE = """services:
  web-blue: &web
    image: r/web:v1
  web-green:
    <<: *web
  caddy:
    image: caddy:2
"""


@pytest.fixture
def rollback(tmp_path):
    f = tmp_path / "compose.yaml"
    f.write_text(COMPOSE)
    opts = HostCommandOptions(SshTarget("a"), f, ("web",), origin=Origin("me"))
    return Rollback(opts, Reporter(stream=io.StringIO())), read_stack(f, ("web",))


def state(service, tag, status="running"):
    return ContainerState(service, service, f"r/web:{tag}", status, "healthy", "")


def test_switches_to_the_idle_colour_and_names_both_tags(rollback):
    rb, stack = rollback
    containers = {"web-blue": state("web-blue", "v1"), "web-green": state("web-green", "v2")}
    assert rb._colours(stack, containers, {"web": {G}}) == (G, B)
    r = rb.result
    assert (r.tag, r.previous_tag, r.colour) == ("v1", "v2", "blue")
    assert r.images == {"web": ("r/web:v2", "r/web:v1")}


def test_both_colours_serving_means_nothing_waits_idle(rollback):
    rb, stack = rollback
    containers = {"web-blue": state("web-blue", "v1"), "web-green": state("web-green", "v1")}
    with pytest.raises(DeployError, match="not to one colour") as e:
        rb._colours(stack, containers, {"web": {B, G}})
    assert "blue-green" in e.value.hint and "previous tag" in e.value.hint


def test_an_idle_colour_that_does_not_run(rollback):
    rb, stack = rollback
    containers = {"web-blue": state("web-blue", "v1", "exited"), "web-green": state("web-green", "v2")}
    with pytest.raises(DeployError, match="web-blue is not running"):
        rb._colours(stack, containers, {"web": {G}})


def test_the_same_version_on_both_colours(rollback):
    rb, stack = rollback
    containers = {"web-blue": state("web-blue", "v2"), "web-green": state("web-green", "v2")}
    with pytest.raises(DeployError, match="same version as green"):
        rb._colours(stack, containers, {"web": {G}})


def test_stack_info(rollback):
    _, stack = rollback
    assert stack.proxy_service == "caddy" and stack.repositories == {"r/web"}
    assert stack.services_of(G) == ["web-green"] and stack.project == Path(
        stack.compose.path).resolve().parent.name.lower()
