"""Which proxy runs in the proxy service, and the router that drives it."""
from __future__ import annotations

import docker.errors
import httpx

from .caddy_router import CaddyRouter, parse_caddy_version
from .clock import Clock
from .colors import Color, service_name
from .errors import ProxyError, ProxyNotAnswering
from .exec_transport import ContainerExecTransport, ContainerShell, docker_exec
from .haproxy_router import HAProxyRouter, connect_runtime_api
from .remote_docker import (
    PROJECT_LABEL,
    SERVICE_LABEL,
    ContainerState,
    RemoteDocker,
    is_one_off,
)
from .router import AppTopology, Router

CADDY_ADMIN = "http://localhost:2019"
POLL = 0.1


def detect_kind(container) -> str | None:
    cfg = container.attrs.get("Config", {})
    words = " ".join([cfg.get("Image", "")] + (cfg.get("Entrypoint") or []) + (cfg.get("Cmd") or [])).lower()
    if "haproxy" in words:
        return "haproxy"
    if "caddy" in words:
        return "caddy"
    return None


class ProxyShell:
    """Commands in the proxy container through one long-lived shell, reopened once if it
    died (the container restarted); plain `docker exec` for images without `sh`."""

    def __init__(self, remote: RemoteDocker, name: str):
        self._remote = remote
        self._name = name
        self._shell: ContainerShell | None = None
        self._no_shell = False

    def __call__(self, argv: list[str]) -> tuple[int, bytes, bytes]:
        if self._no_shell:
            return docker_exec(self._remote.container(self._name))(argv)
        for attempt in (1, 2):
            try:
                if self._shell is None:
                    self._shell = ContainerShell(self._remote.container(self._name))
                return self._shell(argv)
            except (OSError, ValueError, docker.errors.APIError):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._shell is not None:
            self._shell.close()
            self._shell = None


def open_router(docker: RemoteDocker, proxy: ContainerState, apps: list[AppTopology],
                clock: Clock, kind: str | None = None, log=lambda msg: None,
                wait: float = 0.0) -> Router:
    """The router of the proxy in `proxy`. A proxy that was just started may not answer yet
    (its admin API or stats socket comes up after the container): given `wait`, retry that
    for up to `wait` seconds; any other error is raised at once."""
    deadline, said = clock.now() + wait, False
    while True:
        try:
            return _open_router(docker, proxy, apps, clock, kind, log)
        except ProxyNotAnswering as e:
            if clock.now() >= deadline:
                raise
            if not said:
                log(f"waiting up to {wait:g}s for the proxy to answer: {e.message}")
                said = True
            clock.sleep(POLL)


def _open_router(docker: RemoteDocker, proxy: ContainerState, apps: list[AppTopology],
                 clock: Clock, kind: str | None, log) -> Router:
    container = docker.container(proxy.name)
    run = ProxyShell(docker, proxy.name)
    try:
        return _router_over(run, docker, container, proxy, apps, clock, kind, log)
    except BaseException:
        run.close()
        raise


def _router_over(run: ProxyShell, docker: RemoteDocker, container, proxy: ContainerState,
                 apps: list[AppTopology], clock: Clock, kind: str | None, log) -> Router:
    kind = kind or detect_kind(container)
    if kind is None:
        code, out, _ = run(["caddy", "version"])
        kind = "caddy" if code == 0 else None
    if kind is None:
        code, out, _ = run(["haproxy", "-v"])
        kind = "haproxy" if code == 0 else None
    if kind == "caddy":
        code, out, _ = run(["caddy", "version"])
        version = parse_caddy_version(out.decode(errors="replace")) if code == 0 else None
        admin = httpx.Client(transport=ContainerExecTransport(run), base_url=CADDY_ADMIN,
                             timeout=30)
        router = CaddyRouter(admin, apps, clock, version=version, log=log, on_close=run.close,
                             run=run)
    elif kind == "haproxy":
        api = connect_runtime_api(run)
        tool = next((t for t in ("curl", "wget") if t in api.tools), None)
        # the official image has neither curl nor wget: HAProxy's own checks decide
        http = httpx.Client(transport=ContainerExecTransport(run, tool), timeout=10) if tool else None
        router = HAProxyRouter(api, apps, clock, containers=colour_containers(docker, container),
                               http=http, log=log, on_close=run.close)
    else:
        raise ProxyError(f"cannot tell which proxy runs in {proxy.name} ({proxy.image})",
                         hint="set proxy-kind to caddy or haproxy")
    router.load()
    return router


def colour_containers(docker: RemoteDocker, proxy):
    """(app, colour) -> {container id: IP addresses} of the colour's running containers now,
    on the networks they share with the proxy (all of their networks if they share none)."""
    proxy_nets = set((proxy.attrs.get("NetworkSettings") or {}).get("Networks") or {})

    def containers(app: str, color: Color) -> dict[str, set[str]]:
        found = docker.client.containers.list(sparse=True, filters={"label": [
            f"{PROJECT_LABEL}={docker.project}", f"{SERVICE_LABEL}={service_name(app, color)}"]})
        out: dict[str, set[str]] = {}
        for c in found:    # one list call: its answer holds the networks
            if is_one_off(c.attrs.get("Labels")):
                continue
            nets = (c.attrs.get("NetworkSettings") or {}).get("Networks") or {}
            shared = {n: v for n, v in nets.items() if n in proxy_nets} or nets
            out[c.id] = {v["IPAddress"] for v in shared.values() if v.get("IPAddress")}
        return out
    return containers
