"""Switching traffic through Caddy.

Every change through Caddy's admin API is a full graceful reload that closes idle
keep-alive client connections (a client that does not retry loses its next request on
each). So the router switches with flag files instead: the app's reverse_proxy is wrapped,
once, in routes guarded by `file` matchers (`/run/bluegreen/<app>.only-green|only-blue`,
see caddy_config), and a switch is a `touch`/`mv`/`rm` in the proxy container: no reload.
Installing those routes is the only admin write (once per Caddy start, none at all when
the Caddyfile already has them); it is guarded by ETag/If-Match and read back.

Where flag files cannot be written (read-only container), the router falls back to
rewriting the upstreams through the admin API, spacing those reloads.
"""
from __future__ import annotations

import json
import re

import httpx

from . import caddy_config as cc
from .clock import Clock
from .colors import Color
from .errors import ProxyError, ProxyNotAnswering
from .exec_transport import Exec
from .router import AppTopology

SERVERS = "/config/apps/http/servers"
DRAIN_COUNTS_SINCE = (2, 11, 2)   # /reverse_proxy/upstreams counts requests to removed upstreams


class CaddyRouter:
    kind = "caddy"

    def __init__(self, admin: httpx.Client, apps: list[AppTopology], clock: Clock,
                 version: tuple[int, ...] | None = None, min_change_interval: float = 2.0,
                 log=lambda msg: None, on_close=lambda: None, run: Exec | None = None):
        self._admin = admin
        self._run = run                  # commands in the proxy container; None: no flags
        self._flags_installed = False
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
            raise ProxyNotAnswering(f"Caddy's admin API did not answer ({method} {path})", evidence=str(e),
                             hint="the admin API must listen on localhost:2019 inside the proxy "
                                  "container (Caddy's default); do not set `admin off`") from None
        return r

    def load(self) -> None:
        config, _ = self._get_config()
        self._locate(config)
        self._flags_installed = self._run is not None and self._has_flag_routing(config)

    def _locate(self, config: dict) -> None:
        """Find each app's reverse_proxy handlers in this config (their paths change when
        the flag routes are installed)."""
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

    def _has_flag_routing(self, config: dict) -> bool:
        return all(cc.has_flag_routing(config, a.app) for a in self._apps)

    def routed(self) -> dict[str, set[Color]]:
        if self._flags_installed:
            listing = self._shell(f"ls {cc.FLAG_DIR} 2>/dev/null || true")
            return {a.app: cc.colors_from_flags(listing, a.app) for a in self._apps}
        config, _ = self._get_config()
        return {a.app: cc.routed_colors(config, self._handlers[a.app], _names(a)) for a in self._apps}

    def describe(self) -> str:
        v = ".".join(map(str, self.version)) if self.version else "unknown version"
        where = "; ".join(f"{a}: {', '.join(cc.format_path(h.path) for h in hs)}"
                          for a, hs in self._handlers.items())
        how = ("flag files in " + cc.FLAG_DIR if self._flags_installed or self._run
               else "admin API upstream changes")
        return f"Caddy {v}, upstreams at {where}; switching by {how}"

    # -- switching ------------------------------------------------------------------------
    def route_to(self, colors: set[Color]) -> None:
        self._intended = set(colors)
        if self._run is not None:
            try:
                # flags first: when the routes get installed, they already say `colors`
                self._shell(cc.flag_command([a.app for a in self._apps], set(colors)))
            except ProxyError as e:
                self._log(f"cannot write flag files in the proxy container ({e.evidence.strip()}); "
                          "switching through the admin API instead (each switch is a reload)")
                self._run = None
                self._flags_installed = False
        if self._run is not None and not self._flags_installed:
            self._write_config(lambda config: self._with_flags(config), self._has_flag_routing,
                               "install the flag-file routes")
            self._flags_installed = True
            self._log("installed flag-file routes in Caddy (one reload; later switches need none)")
        if self._run is None:
            ordered = [c for c in Color if c in colors]
            self._write_config(
                lambda config: self._with_upstreams(config, ordered),
                lambda config: all(cc.routed_colors(config, self._handlers[a.app], _names(a))
                                   == set(colors) for a in self._apps),
                "switch the upstreams")
        got = self.routed()
        if any(got[a.app] != set(colors) for a in self._apps):
            raise ProxyError("Caddy does not show the routes bluegreen set",
                             evidence=json.dumps(got, default=sorted))

    def _with_flags(self, config: dict) -> dict:
        self._locate(config)
        for a in self._apps:
            if not cc.has_flag_routing(config, a.app):   # an app added since: only its routes
                config = cc.with_flag_routing(config, self._handlers[a.app], self._dials[a.app],
                                              a.app)
        return config

    def _with_upstreams(self, config: dict, ordered: list[Color]) -> dict:
        for a in self._apps:
            config = cc.with_upstreams(config, self._handlers[a.app], self._dials[a.app], ordered)
        return config

    def _write_config(self, change, done, what: str) -> None:
        """Read, change, write with If-Match (a concurrent change is never overwritten),
        read back. Nothing is written when `done(config)` already holds."""
        for _attempt in range(5):
            config, etag = self._get_config()
            if done(config):
                return
            new = change(config)
            self._space_changes()
            r = self._call("POST", SERVERS, content=json.dumps(new["apps"]["http"]["servers"]),
                           headers={"Content-Type": "application/json", "If-Match": etag})
            self._last_change = self._clock.now()
            if r.status_code == 412:
                self._log("Caddy's config changed while we wrote it; reading it again")
                continue
            if r.status_code >= 400:
                raise ProxyError(f"Caddy refused to {what} (HTTP {r.status_code})",
                                 evidence=r.text[-800:],
                                 hint="check the proxy's logs; the routes were left as they were")
            if not done(self._get_config()[0]):
                raise ProxyError(f"Caddy accepted the change ({what}) but does not show it")
            return
        raise ProxyError("Caddy's config kept changing while bluegreen tried to switch traffic",
                         hint="make sure nothing else writes to the admin API during deploys")

    def _shell(self, command: str) -> str:
        try:
            code, out, err = self._run(["sh", "-c", command])
        except OSError as e:
            raise ProxyError("cannot run a command in the proxy container", evidence=str(e)) from None
        if code != 0:
            raise ProxyError(f"`{command}` failed in the proxy container (exit {code})",
                             evidence=(err or out).decode(errors="replace"))
        return out.decode(errors="replace")

    def reapply_if_lost(self) -> bool:
        """A restarted Caddy is back on its Caddyfile: the flag routes (or the rewritten
        upstreams) are gone. A recreated container has lost its flag files too."""
        if self._intended is None:
            return False
        config, _ = self._get_config()
        lost = (not self._has_flag_routing(config)) if self._flags_installed else \
            any(cc.routed_colors(config, self._handlers[a.app], _names(a)) != self._intended
                for a in self._apps)
        if not lost and all(v == self._intended for v in self.routed().values()):
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
