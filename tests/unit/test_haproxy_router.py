"""HAProxy's runtime API: parsing real answers, finding an app's servers, and the router's
decisions against a strict fake of the runtime API (no Docker).

The fixtures are answers recorded from the real HAProxy 2.6.12 of the test world (Debian's
package): the `haproxy` stack (backend z18304, servers blue/green by Docker DNS name) through
a deploy-like sequence, and a two-backend config (tests/unit/fixtures/haproxy/README)."""
from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from bluegreen_action.colors import Color
from bluegreen_action.errors import ProxyError, ProxyNotAnswering
from bluegreen_action.haproxy_router import (
    DISCOVER,
    HAProxyRouter,
    RuntimeApi,
    StatsSocket,
    connect_runtime_api,
    find_app_backends,
    parse_discovery,
    parse_servers_state,
    parse_stat,
    parse_version,
    runtime_argv,
    split_answer,
    stats_sockets,
)
from bluegreen_action.router import AppTopology

FIX = Path(__file__).parent / "fixtures" / "haproxy"
B, G = Color.BLUE, Color.GREEN


def fixture(name: str) -> str:
    return (FIX / name).read_text()


def topology(app: str, blue: str | None = None, green: str | None = None) -> AppTopology:
    names = {B: frozenset({blue or f"{app}-blue"}), G: frozenset({green or f"{app}-green"})}
    return AppTopology(app, names, {c: next(iter(n)) for c, n in names.items()})


# -- parsing real answers ----------------------------------------------------------------------

def test_servers_state_of_the_stack_with_both_colours_up():
    states = {s.name: s for s in parse_servers_state(fixture("servers-state.both-up.txt"))}
    assert set(states) == {"blue", "green"}
    blue = states["blue"]
    assert (blue.backend, blue.fqdn, blue.port) == ("z18304", "z18304-blue", 8000)
    assert blue.addr.count(".") == 3
    assert blue.routed and blue.healthy and blue.checked


def test_a_drained_server_is_not_routed_but_still_healthy():
    states = {s.name: s for s in parse_servers_state(fixture("servers-state.in-flight.txt"))}
    assert states["green"].admin_state == 8
    assert not states["green"].routed and states["green"].healthy
    assert states["blue"].routed


def test_a_removed_container_is_resolution_maintenance_not_healthy():
    states = {s.name: s for s in parse_servers_state(fixture("servers-state.blue-resolution-maint.txt"))}
    blue = states["blue"]
    assert blue.addr == "-" and blue.admin_state == 0x20
    assert blue.routed            # nobody took it out: DNS did
    assert not blue.healthy


def test_a_restarted_server_whose_latest_check_passed_is_recovering():
    before, state, stat = split_answer(fixture("state-and-stat.blue-recovering.txt"))
    blue = {s.name: s for s in parse_servers_state(state)}["blue"]
    assert blue.recovering and not blue.healthy          # DOWN 1/2: one pass of rise 2
    assert parse_stat(stat)[("z18304", "blue")]["status"] == "DOWN 1/2"
    assert not {s.name: s for s in parse_servers_state(state)}["green"].recovering


def test_two_backends_disabled_server_and_servers_without_checks():
    states = {(s.backend, s.name): s for s in parse_servers_state(fixture("servers-state.two-backends.txt"))}
    assert not states[("web", "web-blue")].healthy          # L4CON: down
    assert states[("web", "web-blue")].fqdn == ""
    assert states[("shop", "blue")].healthy and not states[("shop", "blue")].checked
    assert not states[("shop", "green")].routed             # `disabled` in the config


def test_show_stat_rows_are_servers_only_with_current_sessions():
    stats = parse_stat(fixture("stat.in-flight.txt"))
    assert set(stats) == {("z18304", "blue"), ("z18304", "green")}
    assert stats[("z18304", "green")]["status"] == "DRAIN"
    assert stats[("z18304", "green")]["scur"] == "4"          # four 3 s requests in flight
    assert stats[("z18304", "blue")]["check_status"] == "L7OK"


def test_unknown_formats_are_proxy_errors():
    with pytest.raises(ProxyError):
        parse_servers_state("Unknown command\n")
    with pytest.raises(ProxyError):
        parse_stat("Permission denied\n")


def test_version_from_show_info():
    assert parse_version(fixture("info.txt")) == (2, 6, 12)
    assert parse_version("nothing") is None


def test_split_answer_of_a_change_and_its_read_back():
    before, state, stat = split_answer(fixture("set-drain-then-state-and-stat.txt"))
    assert before.strip() == ""
    assert [s.admin_state for s in parse_servers_state(state)] == [8, 0]
    assert parse_stat(stat)[("z18304", "blue")]["status"] == "DRAIN"


def test_split_answer_keeps_the_refusal_before_the_table():
    before, state, stat = split_answer(fixture("set-unknown-server.txt"))
    assert before.strip() == "No such server."
    assert len(parse_servers_state(state)) == 2 and stat is None


# -- which servers are the app's colours -------------------------------------------------------

def test_servers_found_by_their_docker_dns_name():
    states = parse_servers_state(fixture("servers-state.both-up.txt"))
    [be] = find_app_backends(states, topology("z18304"))
    assert be.backend == "z18304" and be.servers == {B: "blue", G: "green"}


def test_servers_named_like_the_containers_in_any_backend():
    states = parse_servers_state(fixture("servers-state.two-backends.txt"))
    [be] = find_app_backends(states, topology("web"))
    assert be.servers == {B: "web-blue", G: "web-green"}


def test_servers_named_after_the_colour_in_a_backend_named_after_the_app():
    states = parse_servers_state(fixture("servers-state.two-backends.txt"))
    [be] = find_app_backends(states, topology("shop"))
    assert be.backend == "shop" and be.servers == {B: "blue", G: "green"}


def test_no_backend_for_another_app():
    states = parse_servers_state(fixture("servers-state.both-up.txt"))
    assert find_app_backends(states, topology("shop")) == []


def test_two_servers_for_one_colour_is_an_error():
    text = fixture("servers-state.both-up.txt").replace(" green ", " blue2 ").replace(
        "z18304-green", "z18304-blue")
    with pytest.raises(ProxyError, match="several servers"):
        find_app_backends(parse_servers_state(text), topology("z18304"))


# -- reaching the runtime API -------------------------------------------------------------------

CONFIG = """\
global
    log stdout format raw local0
    stats socket /var/run/haproxy/admin.sock mode 660 level admin  # unix
    stats socket ipv4@127.0.0.1:9999 level admin
    stats socket :9998 level operator
    stats socket abns@hidden
    stats timeout 30s

frontend web
    bind :8080
    # stats socket /not/global
"""


def test_stats_sockets_of_the_global_section():
    assert stats_sockets(CONFIG) == [
        StatsSocket("unix", "/var/run/haproxy/admin.sock", "admin"),
        StatsSocket("tcp", "127.0.0.1:9999", "admin"),
        StatsSocket("tcp", "127.0.0.1:9998", "operator"),
    ]
    assert stats_sockets("global\n    daemon\n") == []


def test_runtime_argv_per_tool():
    tcp, unix = StatsSocket("tcp", "127.0.0.1:9999", None), StatsSocket("unix", "/s.sock", None)
    bash = runtime_argv("bash", tcp, "show stat")
    assert bash[0] == "bash" and bash[-3:] == ["127.0.0.1", "9999", "show stat"]
    assert "/dev/tcp/$1/$2" in bash[2]
    assert runtime_argv("nc", tcp, "show info")[-3:] == ["show info", "127.0.0.1", "9999"]
    assert runtime_argv("socat", unix, "show info")[-1] == "UNIX-CONNECT:/s.sock"
    assert runtime_argv("perl", unix, "x")[-3:] == ["unix", "/s.sock", "x"]
    assert runtime_argv("python3", tcp, "x")[-3:] == ["tcp", "127.0.0.1:9999", "x"]
    with pytest.raises(ValueError):
        runtime_argv("bash", unix, "x")       # /dev/tcp cannot reach a unix socket
    with pytest.raises(ValueError):
        runtime_argv("nc", unix, "x")


def test_discovery_output():
    path, tools, config = parse_discovery(
        "config /etc/haproxy/haproxy.cfg\ntool bash\ntool perl\n---\n" + CONFIG)
    assert path == "/etc/haproxy/haproxy.cfg" and tools == {"bash", "perl"}
    assert config == CONFIG


class FakeExec:
    """A strict `docker exec`: answers the argv it was told about, fails on anything else."""

    def __init__(self, answers):
        self.answers = answers      # list of (predicate(argv), (code, out, err))
        self.calls = []

    def __call__(self, argv):
        self.calls.append(argv)
        for match, answer in self.answers:
            if match(argv):
                return answer
        raise AssertionError(f"unexpected exec {argv}")


def discovery(config, tools):
    out = "config /usr/local/etc/haproxy/haproxy.cfg\n" + "".join(f"tool {t}\n" for t in tools)
    return (lambda a: a[:3] == ["sh", "-c", DISCOVER], (0, (out + "---\n" + config).encode(), b""))


def test_connect_uses_bash_dev_tcp_on_the_tcp_socket_of_the_official_image():
    config = "global\n    stats socket ipv4@127.0.0.1:9999 level admin\n"
    run = FakeExec([discovery(config, ["bash", "perl"]),
                    (lambda a: a[0] == "bash" and a[-2:] == ["9999", "show cli level"],
                     (0, b"admin\n\n", b""))])
    api = connect_runtime_api(run)
    assert (api.tool, str(api.socket)) == ("bash", "127.0.0.1:9999")
    assert api.describe() == "runtime API at 127.0.0.1:9999 (through bash)"


def test_connect_skips_sockets_that_do_not_answer_or_are_not_admin():
    run = FakeExec([discovery(CONFIG, ["bash", "perl"]),
                    (lambda a: a[0] == "perl", (2, b"", b"connect: Permission denied\n")),
                    (lambda a: a[0] == "bash" and a[-2] == "9999", (0, b"admin\n\n", b""))])
    api = connect_runtime_api(run)
    assert (api.tool, str(api.socket)) == ("bash", "127.0.0.1:9999")

    run = FakeExec([discovery(CONFIG.replace("9999 level admin", "9999 level user"), ["bash"]),
                    (lambda a: a[0] == "bash", (0, b"user\n\n", b""))])
    with pytest.raises(ProxyError) as e:
        connect_runtime_api(run)
    assert "level user" in e.value.evidence and "level admin" in e.value.hint
    assert not isinstance(e.value, ProxyNotAnswering)   # a config error: not worth waiting on


def test_connect_to_sockets_that_refuse_says_the_proxy_does_not_answer_yet():
    run = FakeExec([discovery(CONFIG, ["bash", "perl"]),
                    (lambda a: True, (1, b"", b"connect: Connection refused\n"))])
    with pytest.raises(ProxyNotAnswering, match="cannot reach") as e:
        connect_runtime_api(run)
    assert e.value.evidence.count("Connection refused") >= 2


def test_connect_without_a_stats_socket_says_what_to_add():
    run = FakeExec([discovery("global\n    daemon\n", ["bash"])])
    with pytest.raises(ProxyError, match="no `stats socket`") as e:
        connect_runtime_api(run)
    assert "stats socket ipv4@127.0.0.1:9999 level admin" in e.value.hint


def test_connect_with_only_a_unix_socket_and_bash_explains():
    config = "global\n    stats socket /run/admin.sock level admin\n"
    run = FakeExec([discovery(config, ["bash"])])
    with pytest.raises(ProxyError, match="cannot reach") as e:
        connect_runtime_api(run)
    assert "tools in the container: bash" in e.value.evidence
    assert not isinstance(e.value, ProxyNotAnswering)


# -- the router against a fake HAProxy -----------------------------------------------------------

STATE_HEADER = fixture("servers-state.both-up.txt").splitlines()[1]
STAT_HEADER = fixture("stat.both-up.txt").splitlines()[0][2:].split(",")


class FakeHAProxy:
    """The runtime API of one backend `app` with servers blue and green, rendered in the
    real formats. `checks` scripts health: called on every `show servers state` with the
    fake, it may change servers (e.g. pass a check)."""

    def __init__(self, checks=lambda fake: None):
        self.servers = {c: {"addr": f"172.18.0.{i}", "op": 2, "admin": 0, "result": 3,
                            "health": 3, "check_state": 6, "scur": 0, "chkfail": 0}
                        for i, c in ((2, "blue"), (3, "green"))}
        self.checks = checks
        self.sent: list[str] = []
        self.socket, self.tool, self.tools = StatsSocket("tcp", "127.0.0.1:9999", "admin"), "bash", set()

    def describe(self):
        return "fake runtime API"

    def send(self, line: str) -> str:
        self.sent.append(line)
        out = []
        for cmd in (c.strip() for c in line.split(";")):
            words = cmd.split()
            if cmd == "show servers state":
                self.checks(self)
                rows = [f"3 app {i} {name} {s['addr']} {s['op']} {s['admin']} 1 1 5 15 {s['result']} "
                        f"{s['health']} {s['check_state']} 0 0 0 app-{name} 8000 - 0 0 - - 0"
                        for i, (name, s) in enumerate(self.servers.items(), 1)]
                out.append("1\n" + STATE_HEADER + "\n" + "\n".join(rows) + "\n\n")
            elif cmd == "show stat":
                buf = io.StringIO()
                w = csv.DictWriter(buf, STAT_HEADER, lineterminator="\n")
                for name, s in self.servers.items():
                    w.writerow({"pxname": "app", "svname": name, "scur": s["scur"], "qcur": 0,
                                "status": "DRAIN" if s["admin"] & 8 else ("UP" if s["op"] else "DOWN"),
                                "chkfail": s["chkfail"], "check_status": "L7OK", "check_code": "200",
                                "addr": f"{s['addr']}:8000"})
                out.append("# " + ",".join(STAT_HEADER) + "\n" + buf.getvalue() + "\n")
            elif cmd == "show info":
                out.append(fixture("info.txt"))
            elif words[:2] == ["set", "server"] and words[2].startswith("app/"):
                s = self.servers[words[2].split("/")[1]]
                if words[3:] == ["state", "ready"]:
                    s["admin"] &= ~0x09
                elif words[3:] == ["state", "drain"]:
                    s["admin"] |= 8
                elif words[3:] == ["health", "down"]:
                    s["op"], s["health"] = 0, 0
                elif words[3:] == ["health", "up"]:
                    s["op"], s["health"] = 2, 3
                elif words[3] == "addr":
                    s["addr"] = words[4]
                else:
                    raise AssertionError(cmd)
                out.append("\n")
            else:
                raise AssertionError(f"unexpected runtime API command {cmd!r}")
        return "".join(out)

    def sets(self):
        return [c.strip() for line in self.sent for c in line.split(";") if c.strip().startswith("set ")]


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def now(self):
        return self.t

    def sleep(self, s):
        self.t += s


def router(fake, containers=None, **kw) -> HAProxyRouter:
    r = HAProxyRouter(fake, [topology("app")], FakeClock(), containers=containers, **kw)
    r.load()
    return r


def test_load_describe_and_routed():
    fake = FakeHAProxy()
    r = router(fake)
    assert r.version == (2, 6, 12)
    assert "app/blue + app/green" in r.describe()
    assert r.routed() == {"app": {B, G}}


def test_route_to_one_colour_drains_the_other_without_touching_it():
    fake = FakeHAProxy()
    r = router(fake)
    r.route_to({G})
    assert fake.sets() == ["set server app/blue state drain"]
    assert r.routed() == {"app": {G}}
    r.route_to({G})                              # already so: nothing sent
    assert fake.sets() == ["set server app/blue state drain"]


def test_the_other_colour_is_drained_only_once_the_new_one_passes_its_check():
    fake = FakeHAProxy()
    r = router(fake)
    r.route_to({G})
    fake.servers["blue"].update(op=0, result=2)      # recreated, still booting
    seen = []

    def checks(f):
        seen.append((dict(f.servers["blue"]), dict(f.servers["green"])))
        if len(seen) == 4:
            f.servers["blue"].update(op=2, result=3)  # the check passes
    fake.checks = checks
    r.route_to({B})
    # one line: at no moment do both colours (or none) take new requests
    assert fake.sent[-1].startswith("set server app/blue state ready; "
                                    "set server app/green state drain; ")
    assert all(not green["admin"] & 8 for _blue, green in seen[:4])   # green served meanwhile
    assert all(blue["admin"] & 8 for blue, _green in seen[:4])        # blue, drained, was checked
    assert r.routed() == {"app": {B}}


def test_a_colour_that_never_passes_is_not_routed_to_and_the_other_keeps_traffic():
    fake = FakeHAProxy()
    r = router(fake, ready_timeout=5)
    r.route_to({G})
    fake.servers["blue"].update(op=0, result=2)
    with pytest.raises(ProxyError, match="did not pass within 5s"):
        r.route_to({B})
    assert "set server app/green state drain" not in fake.sets()
    assert "set server app/blue state ready" not in fake.sets()    # it never took traffic
    assert not fake.servers["green"]["admin"] & 8


def test_a_refused_change_is_an_error_with_haproxys_words():
    fake = FakeHAProxy()
    r = router(fake)
    real_send = fake.send
    fake.send = lambda line: ("Permission denied\n\n" + real_send("show servers state")
                              if line.startswith("set ") else real_send(line))
    with pytest.raises(ProxyError, match="refused") as e:
        r.route_to({G})
    assert e.value.evidence == "Permission denied" and "level admin" in e.value.hint


def test_in_flight_counts_current_sessions_of_the_colour():
    fake = FakeHAProxy()
    r = router(fake)
    fake.servers["green"]["scur"] = 4
    assert r.observes_in_flight
    assert r.in_flight(G) == 4 and r.in_flight(B) == 0


def test_reapply_after_haproxy_restarted():
    fake = FakeHAProxy()
    r = router(fake)
    assert r.reapply_if_lost() is False                    # nothing routed yet
    r.route_to({G})
    fake.servers["blue"]["admin"] = 0                      # a restart forgets runtime states
    assert r.reapply_if_lost() is True
    assert r.routed() == {"app": {G}}
    assert r.reapply_if_lost() is False


def test_probe_points_the_server_at_the_recreated_container():
    fake = FakeHAProxy()
    r = router(fake, containers=lambda app, c: {"id-" + c.value: {"172.18.0.9" if c is B else "172.18.0.3"}})
    ok, detail = r.probe("app", B, "/")
    assert not ok and "172.18.0.9" in detail
    assert fake.sets() == ["set server app/blue addr 172.18.0.9 port 8000"]
    ok, detail = r.probe("app", B, "/")
    assert ok and "UP, check L7OK/200" in detail


class Containers:
    """Docker's view: container ids per colour (a recreate changes the id)."""

    def __init__(self):
        self.ids = {B: "b1", G: "g1"}

    def __call__(self, app, color):
        return {self.ids[color]: {"172.18.0.2" if color is B else "172.18.0.3"}}


def recreate_blue_then_route_back(fake, r, docker, failed_checks: int):
    r.route_to({G})
    docker.ids[B] = "b2"                                  # recreated
    fake.servers["blue"]["chkfail"] += failed_checks
    assert r.probe("app", B, "/")[0]                      # HAProxy says it passes...
    calls = []

    def checks(f):                                        # ...and rechecks pass as asked
        calls.append(1)
        if f.servers["blue"]["op"] == 0 and len(calls) > 2:
            f.servers["blue"].update(op=2, health=3)
    fake.checks = checks
    r.route_to({B})


def test_a_recreated_colour_whose_check_never_failed_is_checked_afresh_before_traffic():
    """The old container went away before any check failed (fast stop, same IP): HAProxy's
    passing check may be the old one's, so the router has it checked `rise` times again."""
    fake, docker = FakeHAProxy(), Containers()
    r = router(fake, containers=docker)
    recreate_blue_then_route_back(fake, r, docker, failed_checks=0)
    assert fake.sets()[-3:] == ["set server app/blue health down",
                                "set server app/blue state ready",
                                "set server app/green state drain"]
    assert r.routed() == {"app": {B}}


def test_a_check_that_failed_since_the_drain_proves_the_new_container_was_checked():
    fake, docker = FakeHAProxy(), Containers()
    r = router(fake, containers=docker)
    recreate_blue_then_route_back(fake, r, docker, failed_checks=1)
    assert "health down" not in " ".join(fake.sets())
    assert r.routed() == {"app": {B}}


def test_the_same_container_all_along_needs_no_recheck():
    """`bluegreen rollback`: the idle colour was never replaced; HAProxy has been checking
    that very container."""
    fake, docker = FakeHAProxy(), Containers()
    fake.servers["green"]["admin"] = 8                    # idle since an earlier deploy
    r = router(fake, containers=docker)
    r.route_to({G})
    assert fake.sets() == ["set server app/green state ready", "set server app/blue state drain"]


def test_a_server_without_check_gets_a_warning():
    logs = []
    fake = FakeHAProxy()
    fake.servers["blue"]["check_state"] = 0
    router(fake, log=logs.append)
    assert any("does not health-check app/blue" in m for m in logs)


def test_runtime_api_errors_name_the_socket_and_the_tool():
    api = RuntimeApi(lambda argv: (111, b"", b"bash: connect: Connection refused\n"),
                     StatsSocket("tcp", "127.0.0.1:9999", "admin"), "bash")
    with pytest.raises(ProxyError, match=r"127.0.0.1:9999 did not answer \(bash exit 111\)") as e:
        api.send("show info")
    assert "Connection refused" in e.value.evidence


def test_close_releases_the_shell_in_the_proxy_container():
    closed = []
    r = HAProxyRouter(FakeHAProxy(), [topology("app")], FakeClock(), on_close=lambda: closed.append(1))
    r.close()
    assert closed == [1]


def test_probe_also_sends_a_real_request_when_the_image_has_curl_or_wget():
    import httpx

    seen = []

    def handler(request):
        seen.append(str(request.url))
        return httpx.Response(503 if len(seen) == 1 else 200)
    fake = FakeHAProxy()
    r = router(fake, http=httpx.Client(transport=httpx.MockTransport(handler)))
    ok, detail = r.probe("app", G, "/health")
    assert not ok and "GET http://172.18.0.3:8000/health: HTTP 503" in detail
    assert r.probe("app", G, "/health")[0]
    assert seen == ["http://172.18.0.3:8000/health"] * 2


def test_a_recreated_colour_whose_latest_check_passed_is_put_up_without_waiting_for_rise():
    """Docker says healthy, HAProxy's check of the new container passed once (after failing
    while the old one went away): no need to wait for `rise` passes in a row."""
    fake, docker = FakeHAProxy(), Containers()
    r = router(fake, containers=docker)
    r.route_to({G})
    docker.ids[B] = "b2"
    fake.servers["blue"].update(chkfail=1, op=0, health=1, result=3)     # DOWN 1/2, L7OK
    ok, detail = r.probe("app", B, "/")
    assert ok, detail
    r.route_to({B})
    assert fake.sets()[-3:] == ["set server app/blue health up", "set server app/blue state ready",
                                "set server app/green state drain"]
    assert r.routed() == {"app": {B}}
