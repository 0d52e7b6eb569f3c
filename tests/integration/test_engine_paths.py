"""Engine paths beyond the plain v1 -> v2 swap: taking over a host set up by the article's
script, dry runs, several apps in one deploy."""
from __future__ import annotations

import pytest

from testworld import images
from testworld.hey import Hey
from testworld.load import LoadGenerator

from .deploying import (
    assert_only_reload_closures,
    deploy,
    next_port,
    run_cli,
    versions_served,
)

pytestmark = pytest.mark.integration


def container_ids(world, project):
    p = world.docker("ps", "-q", "--filter", f"label=com.docker.compose.project={project}")
    return sorted(p.stdout.split())


def caddy_upstreams(world, container):
    p = world.docker("exec", container, "curl", "-s",
                     "localhost:2019/config/apps/http/servers/srv0/routes/0/handle/0/upstreams")
    return p.stdout.strip()


def test_a_host_set_up_by_the_article_script_is_taken_over(world, tmp_path):
    port = next_port()
    repo = f"shop{port}"
    # the article runs `docker compose up` in a checkout named after the repository
    compose = world.render_stack("article", tmp_path / repo, app=repo, port=port, tag="v1")
    world.compose(compose.parent, "up", "-d", "--wait", project=repo)
    try:
        before = container_ids(world, repo)
        with LoadGenerator(f"http://127.0.0.1:{port}/", concurrency=10, rate=200,
                           duration=60) as load:
            result = deploy(world, compose, "v2", project=None, apps=(repo,), repo_name=repo)
        print(load.summary)
        assert result.result == "success", result.log
        # a Caddy bluegreen never prepared: the first switch installs the flag routes, one
        # reload, which costs a client that never retries one request per open connection
        assert "installed flag-file routes" in result.log
        assert_only_reload_closures(load.report, connections=10, reloads=1)
        assert result.project == repo and result.previous_tag == "v1"
        served = versions_served(world, repo, compose)
        assert served[f"{repo}-blue"] == served[f"{repo}-green"] == world.app_image("v2")
        after = container_ids(world, repo)
        assert len(after) == len(before) == 3        # no duplicate stack, no name conflict
    finally:
        world.compose(compose.parent, "down", "-v", "-t", "1", project=repo, check=False)


def test_a_dry_run_prints_the_plan_and_changes_nothing(world, tmp_path):
    port = next_port()
    app, project = f"d{port}", f"dry{port}"
    compose = world.render_stack("article", tmp_path / app, app=app, port=port, tag="v1")
    try:
        assert deploy(world, compose, "v1", project, apps=(app,)).result == "success"
        before = (container_ids(world, project), caddy_upstreams(world, f"{app}-caddy"))
        result = deploy(world, compose, "v2", project, apps=(app,), dry_run=True)
        assert result.result == "dry-run", result.log
        assert f"recreate {app}-blue on {world.app_image('v2')}" in result.plan
        assert "route traffic to green" in result.plan
        assert (container_ids(world, project), caddy_upstreams(world, f"{app}-caddy")) == before
        assert compose.read_text().count("sample-app:v1") == 1   # the file itself untouched

        # the terminal's last line says what would happen, not that it happened
        code, out = run_cli(world, "deploy", "--host", world.host, "--port", str(world.port),
                            "--tag", "v2", "--services", app, "--compose-file", str(compose),
                            "--project-name", project, "--pre-deploy", "./migrate --all",
                            "--dry-run")
        assert code == 0
        assert f"run `./migrate --all` in a one-off {app}-blue container" in out
        assert out.rstrip().endswith(
            f"dry run: {project} on deploy@{world.host}:{world.port} would go from v1 to v2; "
            "nothing was changed")
        assert (container_ids(world, project), caddy_upstreams(world, f"{app}-caddy")) == before
    finally:
        world.compose(compose.parent, "down", "-v", "-t", "1", project=project, check=False)


TWO_APPS = """\
services:
  api-blue: &api
    image: {registry}/sample-app:{tag}
    environment: [BOOT_DELAY=1]
    healthcheck: &hc
      test: ["CMD", "curl", "-fsS", "http://localhost:8000/health"]
      interval: 30s
      start_period: 30s
      start_interval: 200ms
  api-green: *api
  web-blue: &web
    image: {registry}/sample-app:{tag}
    environment: [BOOT_DELAY=1]
    healthcheck: *hc
  web-green: *web
  edge:
    image: {proxy}
    ports: ["127.0.0.1:{port}:8080"]
"""
TWO_APPS_CADDYFILE = """\
:8080 {
\thandle_path /api/* {
\t\treverse_proxy api-blue:8000 api-green:8000
\t}
\treverse_proxy web-blue:8000 web-green:8000
}
"""


def test_several_apps_switch_together(world, tmp_path):
    port = next_port()
    project = f"two{port}"
    proxy = images.build_proxy_image(images.CADDY_BUSYBOX, TWO_APPS_CADDYFILE, world.registry,
                                     "two-apps-proxy")
    compose = tmp_path / project / "compose.yaml"
    compose.parent.mkdir()
    compose.write_text(TWO_APPS.format(registry=world.registry, tag="v1", proxy=proxy, port=port))
    try:
        assert deploy(world, compose, "v1", project, apps=("api", "web")).result == "success"
        with Hey(f"http://127.0.0.1:{port}/api/", duration=60, concurrency=5, rate=10) as hey:
            result = deploy(world, compose, "v2", project, apps=("api", "web"))
        print("hey:", hey.report)
        assert result.result == "success", result.log
        assert hey.report["failed"] == 0 and hey.report["ok"] > 100
        served = versions_served(world, project, compose)
        assert {served[f"{a}-{c}"] for a in ("api", "web") for c in ("blue", "green")} == {
            world.app_image("v2")}
        # both apps move in the same three route changes
        assert result.log.count("traffic →") == 3
        assert result.routed == {"api": ["blue", "green"], "web": ["blue", "green"]}
    finally:
        world.compose(compose.parent, "down", "-v", "-t", "1", project=project, check=False)


SLOW_START = {   # the proxy's own command, started 2 s after its container
    "haproxy": 'sleep 2; exec haproxy -W -db -f /usr/local/etc/haproxy/haproxy.cfg',
    "article": 'sleep 2; exec caddy run --config /etc/caddy/Caddyfile --adapter caddyfile',
}


@pytest.mark.parametrize("kind", sorted(SLOW_START))
def test_a_first_deploy_waits_for_a_proxy_that_answers_late(world, tmp_path, kind):
    """`compose up` returns when the proxy's container runs, not when its admin API or
    stats socket listens: the first deploy waits for that instead of failing."""
    port = next_port()
    app, project = f"s{port}", f"slow{port}"
    compose = world.render_stack(kind, tmp_path / app, app=app, port=port, tag="v1")
    proxy = f"{app}-{'haproxy' if kind == 'haproxy' else 'caddy'}:\n"
    text = compose.read_text()
    assert proxy in text
    compose.write_text(text.replace(proxy, proxy + f"    entrypoint: [\"sh\", \"-c\", "
                                                   f"\"{SLOW_START[kind]}\"]\n", 1))
    try:
        result = deploy(world, compose, "v1", project, apps=(app,))
        assert result.result == "success", result.log
        assert "waiting up to 30s for the proxy to answer" in result.log
        report = LoadGenerator(f"http://127.0.0.1:{port}/", concurrency=2, rate=50,
                               duration=1).start().wait()
        assert report["failed"] == 0 and report["ok"] > 20, report
    finally:
        world.compose(compose.parent, "down", "-v", "-t", "1", project=project, check=False)
