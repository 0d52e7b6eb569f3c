"""Helpers for the failure-safety tests (test_failures.py, test_lock.py): their own port
range (18500-18599), stacks on the fault images, a watcher that checks what Caddy routes
to against the containers' state all through a deploy, snapshots of a host's project to
prove that a refused deploy changed nothing, and the `bluegreen` CLI as a subprocess."""
from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import docker

from testworld.common import REPO_ROOT
from testworld.faults import ensure_fault_images
from testworld.hey import Hey
from testworld.load import LoadGenerator

from .deploying import deploy

PORTS = range(18500, 18600)
CONNECTIONS = 10
_held: list = []     # flock'ed files: a port stays this session's until it ends


def next_port() -> int:
    """A port of the range that no other test session holds (a lock file per port, since
    several sessions share the machine) and nothing listens on."""
    folder = Path(tempfile.gettempdir()) / "bluegreen-failure-test-ports"
    folder.mkdir(exist_ok=True)
    for port in PORTS:
        f = open(folder / str(port), "w")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                f.close()
                continue
        _held.append(f)
        return port
    raise RuntimeError("no free port in 18500-18599")


def local_docker() -> docker.DockerClient:
    """The test world's engine, read directly (the server is this machine): the watcher
    samples many times a second, which the SSH path would slow down."""
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "DOCKER_CONTEXT")}
    return docker.from_env(environment=env)


@dataclass
class FStack:
    world: object
    compose: Path
    project: str
    app: str
    port: int
    proxy: str             # the proxy's container name

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def deploy(self, tag: str, **kw):
        return deploy(self.world, self.compose, tag, self.project, apps=(self.app,), **kw)

    def deploy_argv(self, tag: str, *extra: str) -> list[str]:
        """`bluegreen deploy` of this stack, as a user runs it."""
        return cli_argv(self.world, "deploy", "--tag", tag, "--services", self.app,
                        "--compose-file", str(self.compose), "--project-name", self.project,
                        *extra)

    def lock_argv(self, action: str) -> list[str]:
        return cli_argv(self.world, "lock", action, "--project-name", self.project)

    def action_env(self, tag: str, files: Path, **inputs: str) -> dict[str, str]:
        """The environment the runner gives the Action for this stack (`python entrypoint.py`
        in the compose file's folder): INPUT_* and the GITHUB_* it reads; files: where
        GITHUB_OUTPUT and GITHUB_STEP_SUMMARY go."""
        w = self.world
        env = cli_env(GITHUB_WORKSPACE=str(self.compose.parent), GITHUB_REPOSITORY="acme/shop",
                      GITHUB_RUN_ID="77", GITHUB_OUTPUT=str(files / "out"),
                      GITHUB_STEP_SUMMARY=str(files / "summary"))
        given = {"host": w.host, "port": str(w.port), "user": w.user,
                 "ssh-key": w.client_key.read_text(), "known-hosts": w.known_hosts.read_text(),
                 "tag": tag, "services": self.app, "compose-file": self.compose.name,
                 "project-name": self.project, "keep-images": "0", **inputs}
        env.update({f"INPUT_{k.upper()}": v for k, v in given.items()})
        return env

    def served(self) -> dict[str, str]:
        """service -> image of the project's running containers."""
        out = {}
        for c in local_docker().containers.list(
                filters={"label": f"com.docker.compose.project={self.project}"}):
            out[c.labels["com.docker.compose.service"]] = c.attrs["Config"]["Image"]
        return out

    def image(self, tag: str) -> str:
        return f"{self.world.registry}/sample-app:{tag}"

    def routed(self) -> set[str]:
        return caddy_dials(local_docker().containers.get(self.proxy))

    def down(self) -> None:
        self.world.compose(self.compose.parent, "down", "-v", "--remove-orphans", "-t", "1",
                           project=self.project, check=False)


def make_stack(world, tmp_path: Path, kind: str = "article", boot_delay: float = 1,
               colour_env: bool = False, first_tag: str | None = "v1") -> FStack:
    """A stack with a unique app and port; first deployed with v1 by bluegreen itself.
    colour_env: each colour's container gets APP_COLOR=blue|green (for `sick-green`)."""
    ensure_fault_images(world.registry)
    port = next_port()
    app = f"f{port}"
    compose = world.render_stack(kind, tmp_path / app, app=app, port=port, tag="v1",
                                 boot_delay=boot_delay)
    if colour_env:
        assert kind == "article"
        text = compose.read_text()
        delay = f'      BOOT_DELAY: "{boot_delay:g}"\n'
        assert text.count(delay) == 1     # in blue's block, which green merges (<<: *app)
        text = text.replace(delay, delay + "      APP_COLOR: blue\n").replace(
            f"    container_name: {app}-green\n",
            f"    container_name: {app}-green\n    environment:\n{delay}      APP_COLOR: green\n")
        compose.write_text(text)
    proxy = f"{app}-caddy" if kind == "article" else None
    stack = FStack(world, compose, f"bgf{port}", app, port, proxy)
    if first_tag:
        first = stack.deploy(first_tag)
        assert first.result == "success", first.log
    if proxy is None:
        stack.proxy = next(c.name for c in local_docker().containers.list(
            filters={"label": [f"com.docker.compose.project={stack.project}",
                               "com.docker.compose.service=proxy"]}))
    return stack


def custom_caddy_stack(world, tmp_path: Path, caddyfile: str) -> FStack:
    """An article stack whose Caddy runs the given Caddyfile ({{app}} filled in), brought
    up with plain `docker compose up --wait` (not by bluegreen)."""
    from testworld import images
    port = next_port()
    app = f"f{port}"
    compose = world.render_stack("article", tmp_path / app, app=app, port=port, tag="v1",
                                 boot_delay=1)
    ref = images.build_proxy_image(images.CADDY_CURL, caddyfile.replace("{{app}}", app),
                                   world.registry, f"custom-{app}-proxy")
    text = compose.read_text()
    old = f"{world.registry}/article-{app}-proxy:latest"
    assert old in text
    compose.write_text(text.replace(old, ref))
    stack = FStack(world, compose, f"bgf{port}", app, port, f"{app}-caddy")
    world.compose(compose.parent, "up", "-d", "--wait", project=stack.project, timeout=120)
    return stack


# -- what Caddy routes to ---------------------------------------------------------------------
def caddy_config(container) -> dict:
    for argv in (["curl", "-fsS", "http://localhost:2019/config/"],
                 ["wget", "-qO-", "http://localhost:2019/config/"]):
        r = container.exec_run(argv, demux=True)
        if r.exit_code == 0:
            return json.loads(r.output[0] or b"null") or {}
    raise RuntimeError(f"cannot read Caddy's config in {container.name}")


FLAG_DIR = "/run/bluegreen"     # where bluegreen's flag files switch Caddy without a reload


def caddy_dials(container) -> set[str]:
    """The upstream hosts Caddy sends new requests to: every reverse_proxy upstream in its
    live config; where the config routes by bluegreen's flag files (`file` matchers under
    /run/bluegreen: `<app>.only-green` first, then `<app>.only-blue`, else both), only the
    colour the files in the container select."""
    config = caddy_config(container)
    dials = _all_dials(config)
    if f'"root": "{FLAG_DIR}"' not in json.dumps(config):
        return dials
    r = container.exec_run(["ls", FLAG_DIR])
    names = set(r.output.decode().split()) if r.exit_code == 0 else set()
    routed = set()
    for d in dials:
        app, _, colour = d.rpartition("-")
        if f"{app}.only-green" in names:
            keep = colour == "green"
        elif f"{app}.only-blue" in names:
            keep = colour == "blue"
        else:
            keep = True
        if keep:
            routed.add(d)
    return routed


def _all_dials(config: dict) -> set[str]:
    found: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            if node.get("handler") == "reverse_proxy":
                found.update(u.get("dial", "").rsplit(":", 1)[0] for u in node.get("upstreams") or [])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(config)
    return found


@dataclass
class RouteWatch:
    """Samples, every ~0.3 s until stopped: Caddy's upstreams, then the state of every
    container, then the upstreams again. A colour routed in both readings must be running
    and healthy in between (the engine changes routes at most every 2 s, so a colour
    cannot leave and come back within one sample)."""
    stack: FStack
    samples: int = 0
    violations: list[str] = field(default_factory=list)
    seen: list[tuple[float, frozenset]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def __enter__(self):
        self._stop = threading.Event()
        self._client = local_docker()
        self.t0 = time.time()     # samples are stamped in seconds since then
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=30)
        return False

    def _state(self, name: str) -> str:
        """The state of the container a dial host names: its container name, or its
        service's name (compose's DNS alias) in the stack's project."""
        try:
            c = self._client.containers.get(name)
        except docker.errors.NotFound:
            found = self._client.containers.list(all=True, filters={"label": [
                f"com.docker.compose.project={self.stack.project}",
                f"com.docker.compose.service={name}"]})
            if not found:
                return "gone"
            c = found[0]
        st = c.attrs["State"]
        health = (st.get("Health") or {}).get("Status")
        return st["Status"] + (f"/{health}" if health else "")

    def _run(self):
        t0 = self.t0
        while not self._stop.wait(0.3):
            try:
                proxy = self._client.containers.get(self.stack.proxy)
                if proxy.status != "running":
                    continue
                before = caddy_dials(proxy)
                states = {n: self._state(n) for n in before}
                after = caddy_dials(self._client.containers.get(self.stack.proxy))
            except Exception as e:   # noqa: BLE001 - a restarting proxy: skip the sample
                self.errors.append(f"{type(e).__name__}: {e}")
                continue
            self.samples += 1
            if not self.seen or self.seen[-1][1] != frozenset(after):
                self.seen.append((round(time.time() - t0, 1), frozenset(after)))
            for name in before & after:
                if states[name] not in ("running/healthy", "running"):
                    self.violations.append(f"{time.time() - t0:.1f}s: Caddy routes to "
                                           f"{name}, which is {states[name]}")


# -- load ---------------------------------------------------------------------------------------
class Load:
    """hey (retries a request on a keep-alive connection the server closed) and the
    non-retrying generator through the proxy, both bounded (90 s by default)."""

    def __init__(self, url: str, hey_rate: float = 10, gen_rate: float = 150, duration: float = 90):
        self.hey = Hey(url, duration=duration, concurrency=CONNECTIONS, rate=hey_rate)
        self.gen = LoadGenerator(url, concurrency=CONNECTIONS, rate=gen_rate, duration=duration)

    def __enter__(self):
        self.hey.__enter__()
        self.gen.__enter__()
        return self

    def __exit__(self, *exc):
        self.gen.__exit__(*exc)
        self.hey.__exit__(*exc)
        print(f"hey: {self.hey.report}")
        print(f"non-retrying: {self.gen.summary}")
        return False

    def line(self, scenario: str) -> str:
        h, g = self.hey.report, self.gen.report
        text = (f"[{scenario}] hey: {h['failed']} failed of {h['sent']}; non-retrying: "
                f"{g['failed']} failed of {g['sent']} {dict(g['failure_kinds'])}")
        print(text)
        return text


# -- proving "nothing changed" ------------------------------------------------------------------
def snapshot(stack: FStack) -> dict:
    """The project's containers (id, image, state, start time) and Caddy's whole config."""
    client = local_docker()
    containers = {c.name: (c.id, c.attrs["Config"]["Image"], c.status,
                           c.attrs["State"]["StartedAt"])
                  for c in client.containers.list(
                      all=True, filters={"label": f"com.docker.compose.project={stack.project}"})}
    lock = [c.name for c in client.containers.list(all=True, filters={"name": "bluegreen-lock"})
            if c.name.endswith(stack.project)]
    try:
        caddy = caddy_config(client.containers.get(stack.proxy))
    except RuntimeError:     # `admin off`: nothing can change it through the API either
        caddy = "unreadable"
    return {"containers": containers, "caddy": caddy, "lock": lock}


# -- the CLI as a user runs it --------------------------------------------------------------------
def cli_argv(world, *args: str, key: Path | None = None, known_hosts: Path | None = None,
             user: str | None = None, host: str | None = None, port: int | None = None) -> list[str]:
    return [sys.executable, "-m", "bluegreen_action.cli", *args,
            "--host", host or world.host, "--port", str(port or world.port),
            "--user", user or world.user, "--ssh-key", str(key or world.client_key),
            "--known-hosts", str(known_hosts or world.known_hosts)]


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "DOCKER_CONTEXT")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    env.update(extra)
    return env


ENTRYPOINT = [sys.executable, str(REPO_ROOT / "entrypoint.py")]


def run_cli(argv: list[str], input: str | None = None, env: dict | None = None,
            timeout: float = 180) -> subprocess.CompletedProcess:
    p = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout,
                       env=env or cli_env(), cwd=REPO_ROOT)
    print(f"$ {' '.join(argv)}\nexit {p.returncode}\n{p.stdout}{p.stderr}")
    return p


class CliDeploy:
    """A `bluegreen deploy` running in the background; its output is read line by line, so
    a test can act when the deploy reaches a given point."""

    def __init__(self, argv: list[str], env: dict | None = None, input: str | None = None,
                 cwd: Path = REPO_ROOT):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, env=env or cli_env(),
                                     cwd=cwd)
        if input is not None:
            self.proc.stdin.write(input)
        self.proc.stdin.close()
        self.lines: list[str] = []
        self._new = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            with self._new:
                self.lines.append(line.rstrip("\n"))
                self._new.notify_all()
        with self._new:
            self._new.notify_all()

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for_line(self, text: str, timeout: float = 90) -> str:
        deadline = time.monotonic() + timeout
        with self._new:
            while True:
                for line in self.lines:
                    if text in line:
                        return line
                if self.proc.poll() is not None and not self._reader.is_alive():
                    raise AssertionError(f"the deploy ended before {text!r}:\n{self.output}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {text!r} within {timeout}s:\n{self.output}")
                self._new.wait(min(left, 0.5))

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)

    def wait(self, timeout: float = 180) -> int:
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=10)
        print(self.output)
        return code
