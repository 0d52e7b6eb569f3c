"""The test world works: docker over SSH, both registries, both stack kinds serve traffic."""

from __future__ import annotations

import subprocess

import pytest

from testworld.hey import Hey
from testworld.load import LoadGenerator

pytestmark = pytest.mark.integration


def test_docker_host_ssh_reaches_the_engine(world):
    remote = world.docker("info", "--format", "{{.ID}}").stdout.strip()
    local = subprocess.run(["docker", "info", "--format", "{{.ID}}"], capture_output=True,
                           text=True, check=True, env=world.remote_env() | {"DOCKER_HOST": ""})
    assert remote and remote == local.stdout.strip()
    assert world.remote_env()["DOCKER_HOST"] == "ssh://deploy@127.0.0.1:2222"


def test_user_outside_group_docker_is_refused(world):
    proc = world.docker("ps", user=world.nodocker_user, check=False, timeout=60)
    assert proc.returncode != 0


def test_known_hosts_is_one_line_for_the_port(world):
    lines = world.known_hosts.read_text().splitlines()
    assert len(lines) == 1 and lines[0].startswith("[127.0.0.1]:2222 ssh-ed25519 AAAA")


def test_auth_registry_refuses_anonymous_and_accepts_login(world, tmp_path):
    env = world.remote_env() | {"DOCKER_CONFIG": str(tmp_path / "docker-config")}
    image = world.app_image("v1", auth=True)

    def docker(*args, input=None):
        return subprocess.run(["docker", *args], input=input, env=env, capture_output=True,
                              text=True, timeout=120)

    anonymous = docker("pull", image)
    assert anonymous.returncode != 0
    assert "no basic auth credentials" in anonymous.stderr or "unauthorized" in anonymous.stderr
    login = docker("login", world.auth_registry, "-u", world.auth_user, "--password-stdin",
                   input=world.auth_password)
    assert login.returncode == 0, login.stderr
    assert docker("pull", image).returncode == 0


@pytest.mark.parametrize("kind", ["article", "nested"])
def test_stack_comes_up_over_ssh_and_serves_v1(make_stack, kind):
    stack = make_stack(kind)
    ps = stack.compose("ps", "--format", "{{.Service}} {{.Health}}").stdout.split("\n")
    assert sum("healthy" in line for line in ps) == 2, ps

    # the proxy image: curl in the article's, only busybox wget in the nested (alpine-like)
    proxy = f"{stack.app}-caddy" if kind == "article" else "proxy"
    has_curl = stack.compose("exec", "-T", proxy, "sh", "-c", "command -v curl", check=False)
    assert (has_curl.returncode == 0) == (kind == "article")
    if kind == "nested":
        stack.compose("exec", "-T", proxy, "sh", "-c", "command -v wget")

    # the non-retrying load generator, GET and POST at once, ~5 s
    with LoadGenerator(stack.url, method="GET", rate=200, duration=5) as get, \
            LoadGenerator(stack.url, method="POST", rate=200, duration=5) as post:
        get.wait()
        post.wait()
    for load in (get, post):
        report = load.report
        print(load.summary)
        assert report["sent"] > 500
        assert report["failed"] == 0, report["failure_kinds"]
        assert set(report["versions"]) == {"v1"}

    # hey (a Go client) the same way
    with Hey(stack.url, duration=5, concurrency=10, rate=20) as hey_get, \
            Hey(stack.url, duration=5, concurrency=10, rate=20, method="POST") as hey_post:
        hey_get.wait()
        hey_post.wait()
    for hey in (hey_get, hey_post):
        assert hey.report["failed"] == 0, hey.report
        assert set(hey.report["status_counts"]) == {200}
        assert hey.report["ok"] > 500
