import io
from pathlib import Path

import pytest

from bluegreen_action.engine import DeployResult
from bluegreen_action.errors import DeployError, InputError
from bluegreen_action.fleet import HostSpec, parse_hosts, run_hosts, targets
from bluegreen_action.report import Reporter
from bluegreen_action.ssh import SshTarget


def test_hosts_with_ports_users_and_any_separator():
    assert parse_hosts("a:22,b:2223") == [HostSpec("a", 22, "deploy"), HostSpec("b", 2223, "deploy")]
    assert parse_hosts(["ops@a.example.com", "10.0.0.7:2222\nc"], default_port=2200,
                       default_user="web") == [
        HostSpec("a.example.com", 2200, "ops"), HostSpec("10.0.0.7", 2222, "web"),
        HostSpec("c", 2200, "web")]


@pytest.mark.parametrize("bad", ["", "a:0", "a:70000", "ssh://a", "-oProxyCommand=x", "a,a:22",
                                 "[::1]:22", "a b:c"])
def test_bad_host_lists(bad):
    with pytest.raises(InputError):
        parse_hosts(bad)


def test_targets_keep_the_key_and_known_hosts():
    t = SshTarget("x", 22, "deploy", Path("/k"), Path("/kh"))
    got = targets(parse_hosts("a,b:2"), t)
    assert [(x.host, x.port, x.key_file, x.known_hosts) for x in got] == [
        ("a", 22, Path("/k"), Path("/kh")), ("b", 2, Path("/k"), Path("/kh"))]


def hosts(n):
    return [SshTarget(f"h{i}", 22) for i in range(n)]


def fake(outcomes, calls):
    def one(target, reporter, run):
        calls.append(target.host)
        with reporter.phase("Connect"):
            pass
        outcome = outcomes[target.host]
        r = DeployResult(outcome, host=target.display, tag="v2")
        if outcome != "success":
            with pytest.raises(DeployError), reporter.phase("Replace blue"):
                raise DeployError("boom")
            r.error = DeployError("boom", rolled_back=outcome == "rolled-back")
        return r
    return one


def test_all_hosts_in_order_the_first_is_the_canary():
    calls = []
    out = io.StringIO()
    fleet = run_hosts(hosts(3), Reporter(stream=out), "deploy", "v2",
                      fake({"h0": "success", "h1": "success", "h2": "success"}, calls))
    assert calls == ["h0", "h1", "h2"] and fleet.result == "success" and fleet.error is None
    assert [r.role for r in fleet.runs] == ["canary", "next", "next"]
    assert "━━ deploy@h0:22 (canary)" in out.getvalue()
    assert "deploy@h1:22 · Connect" in out.getvalue()
    assert [p.name for p in fleet.runs[1].phases] == ["Connect"]     # without the prefix


def test_a_failing_canary_leaves_every_other_host_untouched():
    calls = []
    out = io.StringIO()
    fleet = run_hosts(hosts(3), Reporter(stream=out), "deploy", "v2",
                      fake({"h0": "rolled-back", "h1": "success", "h2": "success"}, calls))
    assert calls == ["h0"]
    assert [r.status for r in fleet.runs] == ["rolled-back", "skipped", "skipped"]
    assert fleet.result == "rolled-back" and fleet.failed is fleet.runs[0]
    assert "the 2 remaining hosts are left untouched" in out.getvalue()
    assert [(p.name, p.status) for p in fleet.runs[0].phases] == [("Connect", "ok"),
                                                                    ("Replace blue", "failed")]


def test_a_failure_further_down_stops_there():
    calls = []
    fleet = run_hosts(hosts(3), Reporter(stream=io.StringIO()), "deploy", "v2",
                      fake({"h0": "success", "h1": "failed", "h2": "success"}, calls))
    assert calls == ["h0", "h1"] and [r.status for r in fleet.runs] == ["success", "failed", "skipped"]


def test_dry_runs_visit_every_host():
    calls = []
    run_hosts(hosts(2), Reporter(stream=io.StringIO()), "deploy", "v2",
              fake({"h0": "failed", "h1": "success"}, calls), stop_on_failure=False)
    assert calls == ["h0", "h1"]


def test_one_host_has_no_prefix():
    out = io.StringIO()
    fleet = run_hosts(hosts(1), Reporter(stream=out), "deploy", "v2",
                      fake({"h0": "success"}, []))
    assert fleet.runs[0].role == "only" and "━━" not in out.getvalue()
    assert "▶ Connect" in out.getvalue()
