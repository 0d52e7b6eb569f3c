"""Image retention on a server that runs two projects of one repository (say staging and
production): a deploy of one never removes the images the other's rollback needs."""
from __future__ import annotations

import io

import pytest

from bluegreen_action.engine import DeployOptions, default_env
from bluegreen_action.fleet import deploy_fleet
from bluegreen_action.history import Origin
from bluegreen_action.report import Reporter
from bluegreen_action.ssh import SshTarget
from testworld import images

from .deploying import next_port

pytestmark = pytest.mark.integration
REPO = "retention-app"      # a repository of its own: no other test's container holds its tags


def deploy(world, compose, tag, project, app, keep):
    target = SshTarget(world.host, world.port, world.user, world.client_key, world.known_hosts)
    opts = DeployOptions(target=target, compose_file=compose, apps=(app,), tag=tag,
                         project_name=project, env=default_env())
    out = io.StringIO()
    fleet = deploy_fleet(opts, [target], Reporter(stream=out, verbose=True),
                         Origin("pytest@test-retention"), keep)
    print(out.getvalue())
    assert fleet.result == "success", out.getvalue()
    return out.getvalue()


def tags_on_host(world) -> set[str]:
    p = world.docker("images", "--format", "{{.Tag}}", f"{world.registry}/{REPO}")
    return set(p.stdout.split())


def test_retention_keeps_what_another_project_of_the_repository_rolls_back_to(world, tmp_path):
    for tag, source in (("v0", "v1"), ("v1", "v1"), ("v2", "v2"), ("v3", "v3")):
        images.push(world.app_image(source), world.registry, REPO, tag)
    stacks = {}
    for name in ("staging", "prod"):
        port = next_port()
        app, project = f"r{port}", f"ret{name}{port}"
        compose = world.render_stack("article", tmp_path / app, app=app, port=port, tag="v1",
                                     boot_delay=0.5)
        compose.write_text(compose.read_text().replace("/sample-app:", f"/{REPO}:"))
        stacks[name] = (compose, project, app)
    try:
        compose, project, app = stacks["prod"]
        for tag in ("v1", "v2"):            # prod runs v2; its rollback target is v1
            deploy(world, compose, tag, project, app, keep=0)
        compose, project, app = stacks["staging"]
        for tag in ("v1", "v2"):
            deploy(world, compose, tag, project, app, keep=0)
        assert {"v0", "v1", "v2", "v3"} <= tags_on_host(world)

        log = deploy(world, compose, "v3", project, app, keep=2)

        # staging keeps v3 and v2 itself; prod's last two (v2, v1) stay for prod's rollback;
        # v0, which no project deployed, goes
        assert "v1 for " + stacks["prod"][1] in log
        assert tags_on_host(world) == {"v1", "v2", "v3"}, log
    finally:
        for compose, project, _app in stacks.values():
            world.compose(compose.parent, "down", "-v", "-t", "1", project=project, check=False)
            world.docker("run", "--rm", "--network", "none", "-v", "bluegreen-history:/h",
                         "--entrypoint", "rm", world.app_image("v1"), "-f",
                         f"/h/{project}.jsonl", check=False)
