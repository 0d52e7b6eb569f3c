"""`bluegreen status`: per host, the colours, the tag each runs, their health (Docker's and
one request through the proxy), what the proxy routes to, who holds the deploy lock, and the
last entry of the deploy history. Reads only; takes no lock."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from .clock import Clock
from .colors import Color, service_name
from .errors import BluegreenError
from .history import HistoryEntry, HistoryStore
from .lock import DeployLock
from .proxy import open_router
from .remote_docker import RemoteDocker
from .report import Reporter
from .rollback import HostCommandOptions, tag_of
from .ssh import SshSession
from .stack import read_stack
from .strategies import live_colour


@dataclass
class ColourStatus:
    colour: str
    service: str
    container: str = ""
    tag: str = ""
    image: str = ""
    state: str = "missing"          # running, exited, ... or missing
    health: str = ""                # Docker's: healthy, unhealthy, starting, or "" (no check)
    probe: str = ""                 # one request through the proxy
    probe_ok: bool | None = None
    routed: bool | None = None      # None: the proxy could not be read


@dataclass
class HostStatus:
    host: str
    project: str = ""
    proxy: str = ""
    routed: dict[str, list[str]] = field(default_factory=dict)
    mode: str = ""                  # what the routing says about the strategy in use
    colours: list[ColourStatus] = field(default_factory=list)
    lock: str = "free"
    last: HistoryEntry | None = None
    error: str = ""

    def to_dict(self) -> dict:
        d = asdict(self)
        d["last"] = asdict(self.last) if self.last else None
        return d


def read_status(o: HostCommandOptions, reporter: Reporter, clock: Clock | None = None) -> HostStatus:
    clock = clock or Clock()
    st = HostStatus(host=o.target.display)
    try:
        stack = read_stack(o.compose_file, o.apps, o.project_name, o.repo_name, o.proxy_service)
        st.project = stack.project
        with SshSession(o.target, env=o.env) as ssh:
            ssh.open()
            docker = RemoteDocker(ssh, stack.project, stack.compose.path.resolve().parent,
                                  dict(o.env), log=reporter.detail)
            try:
                _read(st, stack, ssh, docker, o, clock, reporter)
            finally:
                docker.close()
    except BluegreenError as e:
        st.error = e.message + (f" ({e.hint})" if e.hint else "")
    return st


def _read(st: HostStatus, stack, ssh, docker: RemoteDocker, o: HostCommandOptions, clock,
          reporter: Reporter) -> None:
    containers = docker.project_containers()
    router = None
    proxy = containers.get(stack.proxy_service)
    routed: dict[str, set[Color]] | None = None
    if proxy is not None and proxy.running:
        try:
            router = open_router(docker, proxy, list(stack.topology), clock, o.proxy_kind)
            st.proxy = router.describe()
            routed = router.routed()
            st.routed = {a: sorted(map(str, c)) for a, c in routed.items()}
        except BluegreenError as e:
            st.proxy = f"unreadable: {e.message}"
    else:
        st.proxy = f"`{stack.proxy_service}` is not running"
    try:
        for app in stack.apps:
            for c in Color:
                svc = service_name(app, c)
                s = containers.get(svc)
                cs = ColourStatus(c.value, svc)
                if s is not None:
                    cs.container, cs.image, cs.tag = s.name, s.image, tag_of(s)
                    cs.state, cs.health = s.status, s.health or ""
                    if router is not None and s.running:
                        cs.probe_ok, cs.probe = router.probe(app, c, o.health_path)
                if routed is not None:
                    cs.routed = c in routed.get(app, set())
                st.colours.append(cs)
    finally:
        if router is not None:
            router.close()
    st.mode = describe_mode(list(stack.apps), routed, st.colours)
    lock = DeployLock(docker.client, ssh, stack.project, clock)
    holder = lock.holder()
    if holder is not None:
        state, why = lock.liveness(holder)
        st.lock = f"held by {holder.describe()} ({state}: {why})"
    try:
        entries = HistoryStore(docker.client, stack.project).read()
        st.last = entries[-1] if entries else None
    except Exception as e:   # noqa: BLE001 - status shows what it can
        reporter.warning(f"could not read the deploy history: {type(e).__name__}: {e}")


def describe_mode(apps: list[str], routed: dict[str, set[Color]] | None,
                  colours: list[ColourStatus]) -> str:
    if all(c.state == "missing" for c in colours):
        return "nothing deployed"
    if routed is None:
        return "unknown (the proxy could not be read)"
    live = live_colour(apps, routed)
    tags = {c.colour: {x.tag for x in colours if x.colour == c.colour} for c in colours}
    if live is not None:
        idle = live.other.value
        return (f"blue-green: {live} is live ({', '.join(sorted(tags[live.value]))}), {idle} "
                f"waits idle ({', '.join(sorted(tags[idle]))})")
    if all(routed.get(a) == set(Color) for a in apps):
        same = tags.get("blue") == tags.get("green")
        return "rolling: both colours serve" + ("" if same else " (DIFFERENT versions)")
    return "mixed: the apps' routes differ (a deploy stopped half-way?)"


def format_status(statuses: list[HostStatus]) -> str:
    out = []
    for st in statuses:
        out.append(f"{st.host}  project {st.project or '?'}")
        if st.error:
            out += [f"  error: {st.error}", ""]
            continue
        out.append(f"  proxy: {st.proxy}")
        out.append(f"  mode:  {st.mode}")
        rows = [("COLOUR", "SERVICE", "TAG", "STATE", "PROBE", "TRAFFIC")]
        for c in st.colours:
            state = c.state + (f", {c.health}" if c.health else "")
            traffic = "?" if c.routed is None else ("routed" if c.routed else "idle")
            rows.append((c.colour, c.service, c.tag or "-", state, c.probe or "-", traffic))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        out += ["  " + "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip()
                for r in rows]
        out.append(f"  lock:  {st.lock}")
        if st.last:
            e = st.last
            out.append(f"  last:  {e.time} {e.action} {e.old_tag or '(none)'} -> {e.new_tag} "
                       f"{e.result} by {e.who}" + (f" {e.run_url}" if e.run_url else ""))
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def status_json(statuses: list[HostStatus]) -> str:
    return json.dumps([s.to_dict() for s in statuses], indent=2)
