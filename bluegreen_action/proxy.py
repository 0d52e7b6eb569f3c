"""Which proxy runs in the proxy service, and the router that drives it."""
from __future__ import annotations

import httpx

from .caddy_router import CaddyRouter, parse_caddy_version
from .clock import Clock
from .errors import ProxyError
from .exec_transport import ContainerExecTransport, docker_exec
from .remote_docker import ContainerState, RemoteDocker
from .router import AppTopology, Router

CADDY_ADMIN = "http://localhost:2019"


def detect_kind(container) -> str | None:
    cfg = container.attrs.get("Config", {})
    words = " ".join([cfg.get("Image", "")] + (cfg.get("Entrypoint") or []) + (cfg.get("Cmd") or [])).lower()
    if "haproxy" in words:
        return "haproxy"
    if "caddy" in words:
        return "caddy"
    return None


def open_router(docker: RemoteDocker, proxy: ContainerState, apps: list[AppTopology],
                clock: Clock, kind: str | None = None, log=lambda msg: None) -> Router:
    container = docker.container(proxy.name)
    run = docker_exec(container)
    kind = kind or detect_kind(container)
    if kind is None:
        code, out, _ = run(["caddy", "version"])
        kind = "caddy" if code == 0 else None
    if kind == "caddy":
        code, out, _ = run(["caddy", "version"])
        version = parse_caddy_version(out.decode(errors="replace")) if code == 0 else None
        admin = httpx.Client(transport=ContainerExecTransport(run), base_url=CADDY_ADMIN,
                             timeout=30)
        router = CaddyRouter(admin, apps, clock, version=version, log=log)
    else:
        raise ProxyError(f"cannot tell which proxy runs in {proxy.name} ({proxy.image})",
                         hint="set proxy-kind to caddy or haproxy")
    router.load()
    return router
