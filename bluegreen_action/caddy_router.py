"""Switching traffic through Caddy's admin API.

Every write replaces `apps/http/servers` in one request guarded by ETag/If-Match (so a
concurrent change is never overwritten) and is read back. Every admin change is a
graceful reload in Caddy, so the router makes as few as possible and spaces them.
"""
from __future__ import annotations

import json
import re

import httpx

from . import caddy_config as cc
from .clock import Clock
from .colors import Color
from .errors import ProxyError
from .router import AppTopology

SERVERS = "/config/apps/http/servers"
DRAIN_COUNTS_SINCE = (2, 11, 2)   # /reverse_proxy/upstreams counts requests to removed upstreams


class CaddyRouter:
    kind = "caddy"

    def __init__(self, admin: httpx.Client, apps: list[AppTopology], clock: Clock,
                 version: tuple[int, ...] | None = None, min_change_interval: float = 2.0,
                 log=lambda msg: None, on_close=lambda: None):
        self._admin = admin
        self._apps = apps
        self._clock = clock
        self.version = version
        self._min_interval = min_change_interval
        self._log = log
        self._handlers: dict[str, list[cc.UpstreamHandler]] = {}
        self._dials: dict[str, dict[Color, str]] = {}
        self._intended: set[Color] | None = None
        self._last_change: float | None = None
        self._on_close = on_close

    def close(self) -> None:
        self._on_close()

    # -- reading --------------------------------------------------------------------------
    def _get_config(self) -> tuple[dict, str]:
        r = self._call("GET", "/config/")
        return (r.json() or {}), r.headers.get("etag", "")

    def _call(self, method: str, path: str, **kw) -> httpx.Response:
        try:
            r = self._admin.request(method, path, **kw)
        except httpx.HTTPError as e:
            raise ProxyError(f"Caddy's admin API did not answer ({method} {path})", evidence=str(e),
                             hint="the admin API must listen on localhost:2019 inside the proxy "
                                  "container (Caddy's default); do not set `admin off`") from None
        return r

    def load(self) -> None:
        config, _ = self._get_config()
        for app in self._apps:
            handlers = cc.find_upstream_handlers(config, app.app, _names(app))
            if not handlers:
                raise ProxyError(
                    f"Caddy has no reverse_proxy to {app.app}-blue / {app.app}-green",
                    evidence="upstreams in Caddy's config: " + (", ".join(_all_dials(config)) or "none"),
                    hint=f"proxy the site with `reverse_proxy {app.preferred[Color.BLUE]}:PORT "
                         f"{app.preferred[Color.GREEN]}:PORT` in the Caddyfile")
            self._handlers[app.app] = handlers
            self._dials[app.app] = cc.dial_addresses(handlers, _names(app), app.preferred)

    def routed(self) -> dict[str, set[Color]]:
        config, _ = self._get_config()
        return {a.app: cc.routed_colors(config, self._handlers[a.app], _names(a)) for a in self._apps}

    def describe(self) -> str:
        v = ".".join(map(str, self.version)) if self.version else "unknown version"
        where = "; ".join(f"{a}: {', '.join(cc.format_path(h.path) for h in hs)}"
                          for a, hs in self._handlers.items())
        return f"Caddy {v}, upstreams at {where}"

    # -- switching ------------------------------------------------------------------------
    def route_to(self, colors: set[Color]) -> None:
        ordered = [c for c in Color if c in colors]
        self._intended = set(colors)
        for _attempt in range(5):
            config, etag = self._get_config()
            if all(cc.routed_colors(config, self._handlers[a.app], _names(a)) == set(colors)
                   for a in self._apps):
                return   # already so: no reload
            new = config
            for a in self._apps:
                new = cc.with_upstreams(new, self._handlers[a.app], self._dials[a.app], ordered)
            self._space_changes()
            r = self._call("POST", SERVERS, content=json.dumps(new["apps"]["http"]["servers"]),
                           headers={"Content-Type": "application/json", "If-Match": etag})
            self._last_change = self._clock.now()
            if r.status_code == 412:
                self._log("Caddy's config changed while we wrote it; reading it again")
                continue
            if r.status_code >= 400:
                raise ProxyError(f"Caddy refused the new routes (HTTP {r.status_code})",
                                 evidence=r.text[-800:],
                                 hint="check the proxy's logs; the routes were left as they were")
            got = self.routed()
            if any(got[a.app] != set(colors) for a in self._apps):
                raise ProxyError("Caddy accepted the new routes but does not show them",
                                 evidence=json.dumps(got, default=sorted))
            return
        raise ProxyError("Caddy's config kept changing while bluegreen tried to switch traffic",
                         hint="make sure nothing else writes to the admin API during deploys")

    def reapply_if_lost(self) -> bool:
        if self._intended is None:
            return False
        if all(v == self._intended for v in self.routed().values()):
            return False
        self._log("Caddy's routes are not what the deploy set (Caddy restarted?); applying them again")
        self.load()
        self.route_to(self._intended)
        return True

    def _space_changes(self) -> None:
        """Caddy closes idle keep-alive connections on each reload; changes in quick
        succession cost requests even for clients that retry."""
        if self._last_change is not None:
            wait = self._last_change + self._min_interval - self._clock.now()
            if wait > 0:
                self._clock.sleep(wait)

    # -- draining and probing -------------------------------------------------------------
    @property
    def observes_in_flight(self) -> bool:
        return self.version is not None and self.version >= DRAIN_COUNTS_SINCE

    def in_flight(self, color: Color) -> int:
        r = self._call("GET", "/reverse_proxy/upstreams")
        dials = {d[color] for d in self._dials.values()}
        return sum(int(u.get("num_requests", 0)) for u in (r.json() or [])
                   if u.get("address") in dials)

    def probe(self, app: str, color: Color, path: str) -> tuple[bool, str]:
        url = f"http://{self._dials[app][color]}{path}"
        try:
            r = self._admin.get(url)
        except httpx.HTTPError as e:
            return False, f"GET {url}: {e}"
        return r.status_code < 400, f"GET {url}: HTTP {r.status_code}"


def parse_caddy_version(text: str) -> tuple[int, ...] | None:
    m = re.search(r"v(\d+)\.(\d+)\.(\d+)", text)
    return tuple(int(x) for x in m.groups()) if m else None


def _names(app: AppTopology) -> dict[Color, set[str]]:
    return {c: set(n) for c, n in app.names.items()}


def _all_dials(config: dict) -> list[str]:
    return [u.get("dial", "") for _, h in cc.iter_handlers(config)
            if h.get("handler") == "reverse_proxy" for u in h.get("upstreams") or []]
