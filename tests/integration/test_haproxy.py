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


NO_RESOLVERS = """\
services:
  {app}-blue: &app
    container_name: {app}-blue
    image: {registry}/sample-app:v1
    environment: {{BOOT_DELAY: "1"}}
    healthcheck:
      test: ["CMD", "curl", "-fsS", "http://localhost:8000/health"]
      interval: 30s
      start_period: 30s
      start_interval: 200ms
    networks: {{net: {{ipv4_address: {subnet}.{blue}}}}}
  {app}-green:
    <<: *app
    container_name: {app}-green
    networks: {{net: {{ipv4_address: {subnet}.{green}}}}}
  {app}-haproxy:
    container_name: {app}-haproxy
    image: {proxy}
    ports: ["127.0.0.1:{port}:8080"]
    networks: [net]
networks:
  net:
    ipam: {{config: [{{subnet: {subnet}.0/24}}]}}
"""


def test_without_resolvers_the_router_points_haproxy_at_recreated_containers(world, tmp_path):
    """A haproxy.cfg without `resolvers` learns each server's address once, at start. When
    a recreated colour comes back at another address (Docker reuses a freed address when
    it can, so the compose file moves them here), the router points the server at the
    container's address (`set server ... addr`) before routing to it; no request fails."""
    from testworld import images, stacks
    port = next_port("haproxy")
    app, project = f"z{port}", f"bgnores{port}"
    config = stacks.fill((stacks.STACKS_DIR / "haproxy" / "haproxy.cfg").read_text(), app=app)
    config = config[:config.index("resolvers docker")] + config[config.index("defaults"):]
    config = config.replace("resolvers docker resolve-prefer ipv4 init-addr last,libc,none",
                            "init-addr libc,none")
    assert "resolvers" not in config
    proxy = images.build_proxy_image(images.HAPROXY_OFFICIAL, config, world.registry,
                                     f"haproxy-noresolvers-{app}-proxy", "haproxy.cfg")
    subnet = f"10.231.{port % 250}"
    compose = tmp_path / app / "compose.yaml"
    compose.parent.mkdir()

    def write(blue, green):
        compose.write_text(NO_RESOLVERS.format(app=app, registry=world.registry, proxy=proxy,
                                               port=port, subnet=subnet, blue=blue, green=green))
    try:
        write(10, 11)
        assert deploy(world, compose, "v1", project, apps=(app,)).result == "success"
        write(20, 21)
        with LoadGenerator(f"http://127.0.0.1:{port}/", concurrency=10, rate=200,
                           duration=60) as load:
            result = deploy(world, compose, "v2", project, apps=(app,))
        print(load.summary)
        assert result.result == "success", result.log
        for colour, ip in (("blue", f"{subnet}.20"), ("green", f"{subnet}.21")):
            assert f"HAProxy: set server {app}/{colour} addr {ip} port 8000" in result.log
        states = parse_servers_state(runtime(world, f"{app}-haproxy", "show servers state"))
        assert {s.name: s.addr for s in states} == {"blue": f"{subnet}.20", "green": f"{subnet}.21"}
        assert all(s.routed and s.healthy for s in states), states
        assert load.report["failed"] == 0, load.report["failure_kinds"]
        assert load.report["versions"]["v1"]["last_sent"] <= load.report["versions"]["v2"]["first"]
    finally:
        world.compose(compose.parent, "down", "-v", "-t", "1", project=project, check=False)
