"""Switching traffic through HAProxy's runtime API: no reload, ever.

`set server <backend>/<server> state ready|drain` changes where new requests go inside
the running process, so no client connection is ever closed (a Caddy admin change is a
reload that closes idle keep-alive connections). A drained server keeps serving the
requests it has; the runtime API counts them (`show stat` scur/qcur), so draining is
observed, not guessed. A colour is put back in service only once HAProxy's own health
check of it passes at the recreated container's address.

The runtime API is HAProxy's `stats socket`, reached from inside the proxy container with
`docker exec` (nothing is published), through whatever the image has: bash's /dev/tcp or
busybox nc for a TCP socket (`ipv4@127.0.0.1:9999`), perl (in Debian's essential
perl-base), socat or python3 for a unix socket too. The official `haproxy` image has bash
and perl-base (Debian) or busybox nc (alpine).
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx

from .clock import Clock
from .colors import Color
from .errors import ProxyError, ProxyNotAnswering
from .exec_transport import Exec
from .router import AppTopology

DEFAULT_CONFIG = "/usr/local/etc/haproxy/haproxy.cfg"    # the official image's
SOCKET_HINT = ("add `stats socket ipv4@127.0.0.1:9999 level admin` to the `global` section of "
               "haproxy.cfg (it stays inside the proxy container; nothing needs publishing)")

# srv_op_state (server-t.h)
OP_RUNNING = 2
# srv_admin_state bits
FMAINT, IMAINT, CMAINT, FDRAIN, IDRAIN, RMAINT = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
MAINT = FMAINT | IMAINT | CMAINT | RMAINT
NOT_ROUTED = FMAINT | IMAINT | CMAINT | FDRAIN | IDRAIN    # set by someone, not by health
# srv_check_state bits / srv_check_result values (check-t.h)
CHK_ST_ENABLED = 0x04
CHK_RES_PASSED, CHK_RES_CONDPASS = 3, 4


# -- what the runtime API answers (pure) ----------------------------------------------------

@dataclass(frozen=True)
class ServerState:
    """One line of `show servers state`."""
    backend: str
    name: str
    addr: str
    port: int | None
    fqdn: str
    op_state: int
    admin_state: int
    check_state: int
    check_result: int

    @property
    def routed(self) -> bool:
        """Nobody (runtime API, config, tracked server) took it out of the rotation."""
        return not self.admin_state & NOT_ROUTED

    @property
    def checked(self) -> bool:
        return bool(self.check_state & CHK_ST_ENABLED)

    @property
    def healthy(self) -> bool:
        """HAProxy considers it up, and its last health check (if any) passed."""
        return (self.op_state == OP_RUNNING and not self.admin_state & MAINT
                and (not self.checked or self.check_result in (CHK_RES_PASSED, CHK_RES_CONDPASS)))

    @property
    def recovering(self) -> bool:
        """Down, but its latest health check passed: up after `rise` passes in a row. (A
        server whose health was forced down keeps its old result: not for those.)"""
        return (self.op_state != OP_RUNNING and not self.admin_state & MAINT and self.checked
                and self.check_result in (CHK_RES_PASSED, CHK_RES_CONDPASS))


def parse_servers_state(text: str) -> list[ServerState]:
    """`show servers state` (format version 1): a version line, a `# field ...` header line,
    then one space-separated line per server."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    header = next((ln for ln in lines if ln.startswith("# ")), None)
    if not lines or lines[0].strip() != "1" or header is None:
        raise ProxyError("HAProxy's `show servers state` answered in an unknown format",
                         evidence=text[:600])
    fields = header[2:].split()
    out = []
    for line in lines[lines.index(header) + 1:]:
        row = dict(zip(fields, line.split(), strict=False))
        port = row.get("srv_port", "0")
        out.append(ServerState(
            backend=row["be_name"], name=row["srv_name"], addr=row.get("srv_addr", "-"),
            port=int(port) if port.isdigit() and port != "0" else None,
            fqdn="" if row.get("srv_fqdn", "-") == "-" else row["srv_fqdn"],
            op_state=int(row.get("srv_op_state", 0)), admin_state=int(row.get("srv_admin_state", 0)),
            check_state=int(row.get("srv_check_state", 0)),
            check_result=int(row.get("srv_check_result", 0))))
    return out


def parse_stat(text: str) -> dict[tuple[str, str], dict[str, str]]:
    """`show stat` (CSV): (proxy, server) -> its fields, for servers only."""
    if not text.startswith("# "):
        raise ProxyError("HAProxy's `show stat` answered in an unknown format", evidence=text[:600])
    rows = csv.DictReader(io.StringIO(text[2:]))
    return {(r["pxname"], r["svname"]): r for r in rows
            if r.get("svname") not in (None, "FRONTEND", "BACKEND")}


def parse_version(show_info: str) -> tuple[int, ...] | None:
    m = re.search(r"^Version:\s*(\d+)\.(\d+)(?:\.(\d+))?", show_info, re.M)
    return tuple(int(x) for x in m.groups() if x is not None) if m else None


@dataclass(frozen=True)
class AppBackend:
    """A backend that holds one server per colour of an app."""
    backend: str
    servers: dict[Color, str]


def find_app_backends(states: list[ServerState], app: AppTopology) -> list[AppBackend]:
    """The backends whose servers are the app's colours: a server is a colour's if its
    configured host name (srv_fqdn) or its own name is one of the colour's DNS names, or,
    in a backend named after the app, if it is named after the colour (`server blue ...`)."""
    by_backend: dict[str, list[ServerState]] = {}
    for s in states:
        by_backend.setdefault(s.backend, []).append(s)
    found = []
    for backend, servers in by_backend.items():
        picked: dict[Color, str] = {}
        for color in Color:
            names = app.names[color]
            match = [s.name for s in servers
                     if _host(s.fqdn) in names or s.fqdn in names or s.name in names]
            if not match and backend == app.app:
                match = [s.name for s in servers if s.name == color.value]
            if len(match) > 1:
                raise ProxyError(f"HAProxy backend `{backend}` has several servers for "
                                 f"{app.app}'s {color}: {', '.join(match)}",
                                 hint="keep one server per colour in the backend")
            if match:
                picked[color] = match[0]
        if len(picked) == len(Color):
            found.append(AppBackend(backend, picked))
    return found


def _host(fqdn: str) -> str:
    return fqdn.rstrip(".").split(".", 1)[0]


# -- reaching the runtime API ----------------------------------------------------------------

@dataclass(frozen=True)
class StatsSocket:
    kind: str            # "tcp" | "unix"
    address: str         # host:port or a path
    level: str | None    # the `level` given in the config, if any

    @property
    def host(self) -> str:
        return self.address.rsplit(":", 1)[0].strip("[]")

    @property
    def port(self) -> str:
        return self.address.rsplit(":", 1)[1]

    def __str__(self) -> str:
        return self.address


def stats_sockets(config: str) -> list[StatsSocket]:
    """The `stats socket` lines of a haproxy.cfg (in the `global` section)."""
    found = []
    section = None
    for raw in config.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if not raw[:1].isspace():
            section = line.split()[0]
        words = line.split()
        if section != "global" or words[:2] != ["stats", "socket"] or len(words) < 3:
            continue
        addr = words[2]
        level = words[words.index("level") + 1] if "level" in words[:-1] else None
        if addr.startswith(("ipv4@", "ipv6@", "tcp@", "tcp4@", "tcp6@")):
            addr = addr.split("@", 1)[1]
        elif addr.startswith("unix@"):
            found.append(StatsSocket("unix", addr[5:], level))
            continue
        elif addr.startswith(("abns@", "fd@", "sockpair@", "udp")):
            continue
        if addr.startswith("/"):
            found.append(StatsSocket("unix", addr, level))
            continue
        host, _, port = addr.rpartition(":")
        if not port.isdigit():
            continue
        if host in ("", "*", "0.0.0.0"):
            host = "127.0.0.1"
        elif host in ("::", "[::]"):
            host = "[::1]"
        found.append(StatsSocket("tcp", f"{host}:{port}", level))
    return found


# tools that can talk to each kind of socket, most preferred first
TOOLS = {"tcp": ("bash", "socat", "nc", "perl", "python3"),
         "unix": ("socat", "perl", "python3")}

_PERL = ("use IO::Socket::INET; use IO::Socket::UNIX; my ($k, $p, $c) = @ARGV; "
         "my $s = $k eq 'unix' ? IO::Socket::UNIX->new(Peer => $p) "
         ": IO::Socket::INET->new(PeerAddr => $p, Timeout => 5); "
         "die \"connect $p: $!\\n\" unless $s; print $s \"$c\\n\"; print while <$s>;")
_PY = ("import socket,sys\n"
       "k,a,c=sys.argv[1:4]\n"
       "s=socket.socket(socket.AF_UNIX) if k=='unix' else socket.create_connection("
       "(a.rsplit(':',1)[0].strip('[]'),int(a.rsplit(':',1)[1])),5)\n"
       "k=='unix' and s.connect(a)\n"
       "s.sendall((c+'\\n').encode())\n"
       "while True:\n"
       " d=s.recv(65536)\n"
       " if not d: break\n"
       " sys.stdout.buffer.write(d)\n")
_BASH = ('exec 3<>"/dev/tcp/$1/$2" || exit 111; printf "%s\\n" "$3" >&3; '
         'while IFS= read -r l <&3 || [ -n "$l" ]; do printf "%s\\n" "$l"; done')


def runtime_argv(tool: str, sock: StatsSocket, command: str) -> list[str]:
    """The argv that sends one command line (`a; b` for several) to the runtime API and
    prints the answer; HAProxy closes the connection after answering."""
    if tool == "bash" and sock.kind == "tcp":
        return ["bash", "-c", _BASH, "bash", sock.host, sock.port, command]
    if tool == "socat":
        target = f"UNIX-CONNECT:{sock.address}" if sock.kind == "unix" else f"TCP:{sock.address}"
        return ["sh", "-c", 'printf "%s\\n" "$1" | socat -t 10 - "$2"', "sh", command, target]
    if tool == "nc" and sock.kind == "tcp":
        return ["sh", "-c", 'printf "%s\\n" "$1" | nc "$2" "$3"', "sh", command, sock.host,
                sock.port]
    if tool == "perl":
        return ["perl", "-e", _PERL, sock.kind, sock.address, command]
    if tool == "python3":
        return ["python3", "-c", _PY, sock.kind, sock.address, command]
    raise ValueError(f"{tool} cannot reach a {sock.kind} socket")


class RuntimeApi:
    """HAProxy's runtime API through one stats socket and one tool in the proxy container."""

    def __init__(self, run: Exec, sock: StatsSocket, tool: str, tools: frozenset[str] = frozenset()):
        self._run = run
        self.socket = sock
        self.tool = tool
        self.tools = tools     # every tool found in the container (curl/wget for probes)

    def send(self, command: str) -> str:
        code, out, err = self._run(runtime_argv(self.tool, self.socket, command))
        if code != 0:
            raise ProxyError(f"HAProxy's runtime API at {self.socket} did not answer "
                             f"({self.tool} exit {code})",
                             evidence=(err or out).decode(errors="replace")[-800:],
                             hint="check that HAProxy runs; " + SOCKET_HINT)
        return out.decode(errors="replace")

    def describe(self) -> str:
        return f"runtime API at {self.socket} (through {self.tool})"


# One exec finds the config file (HAProxy's `-f`, else the official image's path), the
# tools the image has, and prints the config.
DISCOVER = r"""f=$1; shift
if [ -z "$f" ] && [ -r /proc/1/cmdline ]; then
  set -- $(tr '\000' '\n' </proc/1/cmdline)
  while [ $# -gt 0 ]; do [ "$1" = -f ] && [ $# -gt 1 ] && { f=$2; break; }; shift; done
fi
[ -n "$f" ] || f=__DEFAULT__
echo "config $f"
for t in socat bash nc perl python3 curl wget; do
  command -v "$t" >/dev/null 2>&1 && echo "tool $t"
done
echo "---"
if [ -d "$f" ]; then cat "$f"/*.cfg; else cat "$f"; fi""".replace("__DEFAULT__", DEFAULT_CONFIG)


def parse_discovery(text: str) -> tuple[str, frozenset[str], str]:
    """(config path, tools, config text) from the output of DISCOVER."""
    head, _, config = text.partition("\n---\n")
    path, tools = DEFAULT_CONFIG, set()
    for line in head.splitlines():
        key, _, value = line.partition(" ")
        if key == "config":
            path = value
        elif key == "tool":
            tools.add(value)
    return path, frozenset(tools), config


def connect_runtime_api(run: Exec, config_path: str | None = None) -> RuntimeApi:
    """Find the stats sockets in the running HAProxy's config and a tool in the container
    that reaches one of them, and check that it answers at level admin."""
    code, out, err = run(["sh", "-c", DISCOVER, "sh", config_path or ""])
    path, tools, config = parse_discovery(out.decode(errors="replace"))
    if code != 0 or not config.strip():
        raise ProxyError(f"cannot read HAProxy's config {path} in the proxy container",
                         evidence=err.decode(errors="replace")[-400:],
                         hint="run HAProxy with `-f /path/haproxy.cfg`, as the official image does")
    sockets = stats_sockets(config)
    if not sockets:
        raise ProxyError(f"HAProxy's config ({path}) has no `stats socket`: bluegreen switches "
                         "traffic through the runtime API", hint=SOCKET_HINT)
    tried, answered = [], False
    for sock in sockets:
        for tool in TOOLS[sock.kind]:
            if tool not in tools:
                continue
            api = RuntimeApi(run, sock, tool, tools)
            try:
                level = api.send("show cli level").strip()
            except ProxyError as e:
                tried.append(f"{sock} through {tool}: {e.evidence.strip() or e.message}")
                continue
            if level in ("operator", "user"):
                tried.append(f"{sock}: level {level}, not admin")
                answered = True
                continue
            return api
    # no tool, or a socket at the wrong level, is a config error; no answer may be a start-up
    raise (ProxyNotAnswering if tried and not answered else ProxyError)(
        "cannot reach HAProxy's runtime API from inside the proxy container",
        evidence=f"stats sockets in {path}: {', '.join(map(str, sockets))}; tools in the "
                 f"container: {', '.join(sorted(tools)) or 'none'}"
                 + ("\n" + "\n".join(tried) if tried else ""),
        hint=SOCKET_HINT + " (bash's /dev/tcp or nc reach a TCP socket; a unix socket needs "
             "socat, perl or python3 in the image); the socket needs `level admin`")


# -- the router --------------------------------------------------------------------------------

def split_answer(text: str) -> tuple[str, str | None, str | None]:
    """The answer to one `[set ...; ...;] [show info;] show servers state[; show stat]` line,
    in parts: what came before the tables (the answers of the set commands, blank when they
    all succeeded, or `show info`), the `show servers state` table, the `show stat` table."""
    state = re.search(r"^1\n# be_id", text, re.M)
    stat = re.search(r"^# pxname", text, re.M)
    first = min([m.start() for m in (state, stat) if m], default=len(text))
    state_text = text[state.start():stat.start() if stat and stat.start() > state.start()
                      else len(text)] if state else None
    return text[:first], state_text, text[stat.start():] if stat else None


@dataclass
class Snapshot:
    before: str                                      # answers of set commands / show info
    states: dict[tuple[str, str], ServerState]
    stats: dict[tuple[str, str], dict[str, str]]     # empty unless asked for


# (app, colour) -> {container id: its IP addresses} of that colour's running containers now
# (from Docker)
Containers = Callable[[str, Color], dict[str, set[str]]]
POLL = 0.2


class HAProxyRouter:
    kind = "haproxy"

    def __init__(self, api: RuntimeApi, apps: list[AppTopology], clock: Clock,
                 containers: Containers | None = None, http: httpx.Client | None = None,
                 version: tuple[int, ...] | None = None, ready_timeout: float = 60.0,
                 log=lambda msg: None, on_close=lambda: None):
        self._api = api
        self._on_close = on_close
        self._apps = apps
        self._clock = clock
        self._containers = containers
        self._http = http
        self.version = version
        self._ready_timeout = ready_timeout
        self._log = log
        self._backends: dict[str, list[AppBackend]] = {}
        self._intended: set[Color] | None = None
        # Whether a passing check is about the container running now: (backend, server) ->
        # its failed-check count (chkfail) when loaded or drained, and (app, colour) -> the
        # container ids when loaded. See _checked_since_replaced.
        self._chkfail_base: dict[tuple[str, str], int] = {}
        self._ids_at_load: dict[tuple[str, Color], frozenset[str]] = {}

    def close(self) -> None:
        self._on_close()

    # -- reading --------------------------------------------------------------------------
    def _query(self, before: Sequence[str] = (), stat: bool = False) -> Snapshot:
        """One runtime API connection: `before` commands, then the servers' state (and
        stats): a change and its read-back in a single exec."""
        commands = [*before, "show servers state"] + (["show stat"] if stat else [])
        head, state_text, stat_text = split_answer(self._api.send("; ".join(commands)))
        if state_text is None:
            raise ProxyError("HAProxy's runtime API did not answer `show servers state`",
                             evidence=head.strip()[-800:])
        return Snapshot(head, {(s.backend, s.name): s for s in parse_servers_state(state_text)},
                        parse_stat(stat_text) if stat_text else {})

    def _servers(self):
        """(app, backend, colour, server) for every app's colour servers."""
        for app in self._apps:
            for be in self._backends[app.app]:
                for color, server in be.servers.items():
                    yield app.app, be.backend, color, server

    def load(self) -> None:
        snap = self._query(["show info"] if self.version is None else [], stat=True)
        if self.version is None:
            self.version = parse_version(snap.before)
        states = list(snap.states.values())
        for app in self._apps:
            backends = find_app_backends(states, app)
            if not backends:
                servers = ", ".join(f"{s.backend}/{s.name} ({s.fqdn or s.addr})" for s in states)
                raise ProxyError(
                    f"HAProxy has no backend with servers for {app.app}-blue and {app.app}-green",
                    evidence="servers in HAProxy: " + (servers or "none"),
                    hint=f"give a backend `server blue {app.preferred[Color.BLUE]}:PORT check` and "
                         f"`server green {app.preferred[Color.GREEN]}:PORT check`")
            self._backends[app.app] = backends
            for be in backends:
                for color, server in be.servers.items():
                    if not snap.states[(be.backend, server)].checked:
                        self._log(f"warning: HAProxy does not health-check {be.backend}/{server}; "
                                  f"add `check` (and `option httpchk`) so that {app.app}'s {color} "
                                  "gets traffic only once it answers")
                    self._chkfail_base[(be.backend, server)] = _int(
                        snap.stats.get((be.backend, server), {}).get("chkfail"))
            if self._containers is not None:
                for color in Color:
                    self._ids_at_load.setdefault(
                        (app.app, color), frozenset(self._containers(app.app, color)))

    def routed(self) -> dict[str, set[Color]]:
        return self._routed(self._query().states)

    def _routed(self, states) -> dict[str, set[Color]]:
        return {app.app: {c for c in Color
                          if all(_state(states, be.backend, be.servers[c]).routed
                                 for be in self._backends[app.app])}
                for app in self._apps}

    def describe(self) -> str:
        v = ".".join(map(str, self.version)) if self.version else "unknown version"
        where = "; ".join(f"{a}: " + ", ".join(f"{be.backend}/{be.servers[Color.BLUE]} + "
                                               f"{be.backend}/{be.servers[Color.GREEN]}" for be in bes)
                          for a, bes in self._backends.items())
        return f"HAProxy {v}, {self._api.describe()}, servers {where}"

    # -- switching ------------------------------------------------------------------------
    def route_to(self, colors: set[Color]) -> None:
        """Put `colors` in service and drain the others, in one runtime API line and only
        once HAProxy's health check passes for each new server: no reload, no connection
        closed, and no moment with both colours (or none) taking new requests. Until then
        the new servers stay drained; HAProxy keeps checking drained servers."""
        self._intended = set(colors)
        snap = self._query(stat=True)
        states = snap.states
        ready = [(a, be, c, srv) for a, be, c, srv in self._servers()
                 if c in colors and not _state(states, be, srv).routed]
        drain = [(be, srv) for _a, be, c, srv in self._servers()
                 if c not in colors and _state(states, be, srv).routed]
        servers = [(be, srv) for _a, be, _c, srv in ready]
        if ready:
            # A replaced container whose check never failed: HAProxy's pass may be the old
            # container's, so have it checked `rise` times afresh before it gets traffic.
            # Otherwise a server whose latest check passed (and whose container Docker
            # reports healthy: the engine probed it) needs no more passes in a row.
            recheck = [(be, srv) for a, be, c, srv in ready
                       if not self._checked_since_replaced(a, c, be, srv, snap)]
            up = [(be, srv) for _a, be, _c, srv in ready if (be, srv) not in recheck
                  and _state(states, be, srv).recovering]
            health = ([f"set server {be}/{srv} health down" for be, srv in recheck]
                      + [f"set server {be}/{srv} health up" for be, srv in up])
            if health:
                states = self._send(health, "set server ... health")
            if recheck:
                self._log("HAProxy: fresh health checks of "
                          + ", ".join(f"{be}/{srv}" for be, srv in recheck))
            if up:
                self._log("HAProxy: " + ", ".join(f"{be}/{srv}" for be, srv in up)
                          + " passed its latest check: up without waiting for `rise`")
            states = self._await_healthy(servers, states)
        if servers or drain:
            states = self._send([f"set server {be}/{srv} state ready" for be, srv in servers]
                                + [f"set server {be}/{srv} state drain" for be, srv in drain],
                                "set server ... state")
            self._log("HAProxy: " + "; ".join(
                [f"{', '.join(f'{be}/{srv}' for be, srv in group)} → {state}"
                 for group, state in ((servers, "ready"), (drain, "drain")) if group]))
            for key in drain:
                self._chkfail_base[key] = _int(snap.stats.get(key, {}).get("chkfail"))
        got = self._routed(states)
        if any(got[a.app] != set(colors) for a in self._apps):
            raise ProxyError("HAProxy accepted the new server states but does not show them",
                             evidence=repr({a: sorted(map(str, c)) for a, c in got.items()}),
                             hint="make sure nothing else changes server states during deploys")

    def _checked_since_replaced(self, app: str, color: Color, backend: str, server: str,
                                snap: Snapshot) -> bool:
        """Whether the server's passing check can be trusted to be about the container
        running now: the container is the one HAProxy has been checking since the router
        loaded, or a check failed since it was loaded or drained (the old container went
        away), or it has no check at all."""
        if not _state(snap.states, backend, server).checked:
            return True
        if self._containers is not None and (app, color) in self._ids_at_load:
            if frozenset(self._containers(app, color)) == self._ids_at_load[(app, color)]:
                return True
        chkfail = _int(snap.stats.get((backend, server), {}).get("chkfail"))
        return chkfail > self._chkfail_base.get((backend, server), chkfail)

    def _send(self, commands: list[str], what: str):
        """Runtime API commands in one line; the server states after them."""
        snap = self._query(commands)
        if snap.before.strip():
            raise ProxyError(f"HAProxy refused `{what}`",
                             evidence=snap.before.strip()[-800:],
                             hint="the stats socket needs `level admin`" if "denied" in snap.before
                             else "check the backend and server names in haproxy.cfg")
        return snap.states

    def _await_healthy(self, servers: list[tuple[str, str]], states):
        start = self._clock.now()
        while True:
            down = [(be, srv) for be, srv in servers if not _state(states, be, srv).healthy]
            if not down:
                return states
            if self._clock.now() - start >= self._ready_timeout:
                be, srv = down[0]
                snap = self._query(stat=True)
                raise ProxyError(
                    f"HAProxy's health check of {be}/{srv} did not pass within "
                    f"{self._ready_timeout:g}s; the other colour was not drained",
                    evidence=_stat_line(snap.stats.get((be, srv))),
                    hint="check the server's `check` settings (option httpchk) in haproxy.cfg")
            self._clock.sleep(POLL)
            states = self._query().states

    def reapply_if_lost(self) -> bool:
        if self._intended is None:
            return False
        if all(v == self._intended for v in self.routed().values()):
            return False
        self._log("HAProxy's server states are not what the deploy set (HAProxy restarted?); "
                  "applying them again")
        self.load()
        self.route_to(self._intended)
        return True

    # -- draining and probing -------------------------------------------------------------
    @property
    def observes_in_flight(self) -> bool:
        return True

    def in_flight(self, color: Color) -> int:
        """Requests HAProxy has open to (scur) or queued for (qcur) the colour's servers."""
        stats = parse_stat(self._api.send("show stat"))
        return sum(_int(stats.get((be, srv), {}).get("scur")) + _int(stats.get((be, srv), {}).get("qcur"))
                   for _a, be, c, srv in self._servers() if c == color)

    def probe(self, app: str, color: Color, path: str) -> tuple[bool, str]:
        """Healthy when HAProxy has the colour's server at the container's current address
        and its own health check of it passes (plus a real GET from the proxy container
        when the image has curl or wget). A server left at an address no container has any
        more is pointed at the container's (`set server ... addr`): the fix for configs
        without `resolvers`, and faster than waiting for the next DNS resolution."""
        snap = self._query(stat=True)
        want = set().union(*self._containers(app, color).values()) if self._containers else set()
        details, moves = [], []
        ok = True
        for be in self._backends[app]:
            server = be.servers[color]
            st = _state(snap.states, be.backend, server)
            if want and st.addr not in want:
                ip = sorted(want)[0]
                moves.append(f"set server {be.backend}/{server} addr {ip}"
                             + (f" port {st.port}" if st.port else ""))
                details.append(f"{be.backend}/{server} at {st.addr}, the container at {ip}")
                ok = False
                continue
            ok = ok and (st.healthy or st.recovering)
            details.append(f"{be.backend}/{server}: "
                           f"{_stat_line(snap.stats.get((be.backend, server)))}")
            if ok and self._http is not None and st.port:
                url = f"http://{st.addr}:{st.port}{path}"
                try:
                    r = self._http.get(url)
                    ok = r.status_code < 400
                    details.append(f"GET {url}: HTTP {r.status_code}")
                except httpx.HTTPError as e:
                    ok = False
                    details.append(f"GET {url}: {e}")
        if moves:
            answer = self._api.send("; ".join(moves))
            self._log(f"HAProxy: {'; '.join(moves)}" + (f": {' '.join(answer.split())}"
                                                       if answer.strip() else ""))
        return ok, "; ".join(details)


def _state(states: dict[tuple[str, str], ServerState], backend: str, server: str) -> ServerState:
    try:
        return states[(backend, server)]
    except KeyError:
        raise ProxyError(f"HAProxy no longer has the server {backend}/{server}",
                         hint="was haproxy.cfg changed during the deploy?") from None


def _stat_line(row: dict[str, str] | None) -> str:
    """`UP, check L7OK/200, addr 172.18.0.4:8000` from a `show stat` row."""
    row = row or {}
    check = row.get("check_status") or "no check"
    code = f"/{row['check_code']}" if row.get("check_code") else ""
    return f"{row.get('status', '?')}, check {check}{code}, addr {row.get('addr', '?')}"


def _int(value) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0
