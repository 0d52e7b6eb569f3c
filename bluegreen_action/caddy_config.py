"""Finding an app's upstreams in Caddy's live JSON config, and changing them.

Caddy nests `reverse_proxy` handlers under subroutes (`handle`, `route`, host-named sites,
`encode` before it), so the handler is found by walking the config, never by a fixed path.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

from .colors import Color
from .errors import ProxyError

Path = tuple  # keys and indexes from the config's root


@dataclass(frozen=True)
class UpstreamHandler:
    """A reverse_proxy handler whose upstreams are an app's colours."""
    path: Path
    dials: tuple[str, ...]
    colors: frozenset[Color]      # the colours it routes to now


def split_dial(dial: str) -> tuple[str, str]:
    host, _, port = dial.rpartition(":")
    return (host, port) if host else (dial, "")


def iter_handlers(config: dict):
    """Yield (path, handler) for every handler in every route, however deeply nested."""
    servers = (config.get("apps") or {}).get("http", {}).get("servers", {}) or {}
    for name, server in servers.items():
        base = ("apps", "http", "servers", name)
        yield from _walk_routes(server.get("routes") or [], base + ("routes",))
        errors = (server.get("errors") or {}).get("routes") or []
        yield from _walk_routes(errors, base + ("errors", "routes"))


def _walk_routes(routes: list, path: Path):
    for i, route in enumerate(routes):
        for j, handler in enumerate(route.get("handle") or []):
            hpath = path + (i, "handle", j)
            yield hpath, handler
            if handler.get("handler") == "subroute":
                yield from _walk_routes(handler.get("routes") or [], hpath + ("routes",))


def find_upstream_handlers(config: dict, app: str, hosts: dict[Color, set[str]]) -> list[UpstreamHandler]:
    """Every reverse_proxy handler that dials the app's colours (by any of their DNS names).
    A handler mixing the app's colours with other upstreams cannot be switched safely."""
    known = {h: c for c, names in hosts.items() for h in names}
    found = []
    for path, handler in iter_handlers(config):
        if handler.get("handler") != "reverse_proxy":
            continue
        dials = tuple(u.get("dial", "") for u in handler.get("upstreams") or [])
        colors = {known[split_dial(d)[0]] for d in dials if split_dial(d)[0] in known}
        if not colors:
            continue
        strangers = [d for d in dials if split_dial(d)[0] not in known]
        if strangers:
            raise ProxyError(
                f"Caddy's reverse_proxy at {format_path(path)} mixes {app}'s colours with other "
                f"upstreams ({', '.join(strangers)})",
                hint=f"give {app} a reverse_proxy of its own listing only "
                     f"{app}-blue and {app}-green")
        found.append(UpstreamHandler(path, dials, frozenset(colors)))
    return found


def with_upstreams(config: dict, handlers: list[UpstreamHandler], dial_for: dict[Color, str],
                   colors: list[Color]) -> dict:
    """A copy of the config in which each handler routes to exactly `colors`."""
    new = copy.deepcopy(config)
    for h in handlers:
        parent = get_path(new, h.path[:-1])
        parent[h.path[-1]] = _with_only(parent[h.path[-1]], dial_for, colors)
    return new


def routed_colors(config: dict, handlers: list[UpstreamHandler], hosts: dict[Color, set[str]]) -> set[Color]:
    """The colours the given handlers route to in this config (for reading a change back)."""
    known = {h: c for c, names in hosts.items() for h in names}
    colors: set[Color] = set()
    for h in handlers:
        for u in get_path(config, h.path).get("upstreams") or []:
            host = split_dial(u.get("dial", ""))[0]
            if host in known:
                colors.add(known[host])
    return colors


def dial_addresses(handlers: list[UpstreamHandler], hosts: dict[Color, set[str]],
                   preferred: dict[Color, str]) -> dict[Color, str]:
    """The dial address of each colour: as the config already writes it, else the
    preferred host name with the port the other colour uses."""
    dials: dict[Color, str] = {}
    port = ""
    for h in handlers:
        for d in h.dials:
            host, p = split_dial(d)
            port = port or p
            for c, names in hosts.items():
                if host in names:
                    dials.setdefault(c, d)
    for c in Color:
        dials.setdefault(c, f"{preferred[c]}:{port}" if port else preferred[c])
    return dials


def get_path(config, path: Path):
    node = config
    for key in path:
        node = node[key]
    return node


def format_path(path: Path) -> str:
    return "/".join(str(p) for p in path)


# -- flag-file routing: switching without a reload ---------------------------------------
# Caddy's `file` matcher stats its file on every request, so routes guarded by flag files
# inside the proxy container switch traffic the instant a file is created, renamed or
# removed: no admin change, no reload, no idle keep-alive connection closed.
FLAG_DIR = "/run/bluegreen"


def flag_name(app: str, color: Color) -> str:
    """The file whose presence sends all of the app's traffic to that colour alone."""
    return f"{app}.only-{color.value}"


def _flag_matcher(app: str, color: Color) -> dict:
    return {"file": {"root": FLAG_DIR, "try_files": [flag_name(app, color)]}}


def has_flag_routing(config: dict, app: str) -> bool:
    """Whether the config already routes the app by its flag files (installed by an
    earlier deploy, or written in the Caddyfile as the README shows)."""
    wanted = [_flag_matcher(app, c)["file"] for c in Color]
    found: list[dict] = []

    def walk(node):
        if isinstance(node, dict):
            f = node.get("file")
            if isinstance(f, dict) and f.get("root") == FLAG_DIR and f in wanted:
                found.append(f)
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(config)
    return all(w in found for w in wanted)


def with_flag_routing(config: dict, handlers: list[UpstreamHandler], dial_for: dict[Color, str],
                      app: str) -> dict:
    """A copy of the config in which each of the app's handlers becomes a subroute: the
    handler with only green when `<app>.only-green` exists, only blue when
    `<app>.only-blue` exists, else both colours. Every other setting of the handler stays."""
    new = copy.deepcopy(config)
    for h in handlers:
        parent = get_path(new, h.path[:-1])
        original = parent[h.path[-1]]
        parent[h.path[-1]] = {"handler": "subroute", "routes": [
            {"match": [_flag_matcher(app, Color.GREEN)],
             "handle": [_with_only(original, dial_for, [Color.GREEN])], "terminal": True},
            {"match": [_flag_matcher(app, Color.BLUE)],
             "handle": [_with_only(original, dial_for, [Color.BLUE])], "terminal": True},
            {"handle": [_with_only(original, dial_for, [Color.BLUE, Color.GREEN])]},
        ]}
    return new


def _with_only(handler: dict, dial_for: dict[Color, str], colors: list[Color]) -> dict:
    old = {u.get("dial"): u for u in handler.get("upstreams") or []}
    return {**copy.deepcopy(handler),
            "upstreams": [{**old.get(dial_for[c], {}), "dial": dial_for[c]} for c in colors]}


def flag_command(apps: list[str], colors: set[Color]) -> str:
    """One shell command that makes the apps' flag files say `colors`, atomically per app:
    a rename moves traffic from one colour to the other with no instant on both or none."""
    parts = [f"mkdir -p {FLAG_DIR}", f"cd {FLAG_DIR}"]
    for app in apps:
        g, b = flag_name(app, Color.GREEN), flag_name(app, Color.BLUE)
        if colors == {Color.GREEN}:
            parts.append(f"if [ -e {b} ]; then mv -f {b} {g}; else touch {g}; fi")
        elif colors == {Color.BLUE}:
            parts.append(f"if [ -e {g} ]; then mv -f {g} {b}; else touch {b}; fi")
        elif colors == {Color.BLUE, Color.GREEN}:
            parts.append(f"rm -f {g} {b}")
        else:
            raise ValueError(f"cannot route {app} to {colors}")
    return " && ".join(parts)


def colors_from_flags(listing: str, app: str) -> set[Color]:
    """What the flag files in `ls FLAG_DIR` output say for the app."""
    names = set(listing.split())
    for c in (Color.GREEN, Color.BLUE):     # the order of the routes: green's is first
        if flag_name(app, c) in names:
            return {c}
    return set(Color)
