import io
from pathlib import Path

import pytest

from bluegreen_action.engine import DeployResult
from bluegreen_action.errors import DeployError, InputError
from bluegreen_action.fleet import HostSpec, parse_hosts, run_hosts, targets
from bluegreen_action.history import Origin, make_entry
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


# -- history and retention after each host's deploy ----------------------------------------

class FakeStore:
    entries: list = []

    def __init__(self, client, project):
        assert client == "client" and project == "shop"

    def append_and_read_all(self, entry):
        if isinstance(FakeStore.others, Exception):
            raise FakeStore.others
        FakeStore.entries = FakeStore.entries + [entry]
        return {"shop": FakeStore.entries, **FakeStore.others}


def after(monkeypatch, result, error=None, keep=2, dry_run=False, others=None):
    import types

    from bluegreen_action import fleet
    from bluegreen_action.fleet import HostRun, _after_deploy
    from bluegreen_action.retention import RetentionPlan
    FakeStore.entries, FakeStore.others = [], others or {}
    calls = []
    monkeypatch.setattr(fleet, "HistoryStore", FakeStore)
    monkeypatch.setattr(fleet, "live_projects", lambda client: {"shop", "prod"})

    def retention(client, repos, keep_tags, log):
        calls.append((repos, keep_tags))
        return RetentionPlan(keep_tags, kept=("r/app:v2",)), ["r/app:v0"]
    monkeypatch.setattr(fleet, "apply_retention", retention)
    out = io.StringIO()
    d = types.SimpleNamespace(
        result=result, r=Reporter(stream=out),
        o=types.SimpleNamespace(dry_run=dry_run, target=SshTarget("a"), tag="v2",
                                strategy="blue-green"))
    run = HostRun(SshTarget("a"), "only")
    _after_deploy(d, types.SimpleNamespace(client="client"), error, run, Origin("me"), keep, 0.0)
    return run, calls, out.getvalue()


def deployed(outcome="success"):
    r = DeployResult(outcome, host="deploy@a:22", project="shop", tag="v2", previous_tag="v1",
                     plan="1. pull")
    r.images = {"app-blue": ("r/app:v1", "r/app:v2")}
    return r


def test_a_success_is_recorded_then_old_images_go(monkeypatch):
    run, calls, log = after(monkeypatch, deployed())
    (e,) = run.history
    assert (e.result, e.old_tag, e.new_tag, e.strategy, e.images) == (
        "success", "v1", "v2", "blue-green", {"app-blue": "r/app:v2"})
    assert calls == [({"r/app"}, ("v2", "v1"))]
    assert "removed r/app:v0" in log and run.retention == "kept r/app:v2; removed r/app:v0"


def test_retention_also_keeps_what_another_project_of_the_repository_rolls_back_to(monkeypatch):
    prod = [make_entry(action="deploy", project="prod", host="a", result="success",
                       new_tag="v0", old_tag=None, origin=Origin("me"),
                       images={"app-blue": "r/app:v0"})]
    run, calls, log = after(monkeypatch, deployed(), others={"prod": prod})
    assert calls == [({"r/app"}, ("v2", "v1", "v0"))]
    assert "(keep 2 tags: v2, v1; v0 for prod)" in log


def test_retention_is_skipped_when_the_history_cannot_be_read(monkeypatch):
    run, calls, log = after(monkeypatch, deployed(), others=OSError("volume busy"))
    assert calls == [] and run.history == []
    assert "could not write the deploy history: OSError: volume busy" in log
    assert "image retention skipped" in log


def test_a_rolled_back_deploy_is_recorded_and_nothing_is_removed(monkeypatch):
    run, calls, _ = after(monkeypatch, deployed("failed"),
                          error=DeployError("boom", rolled_back=True))
    assert run.history[0].result == "rolled-back" and run.history[0].error == "boom"
    assert calls == []


def test_an_interrupted_deploy_is_not_a_success(monkeypatch):
    run, calls, _ = after(monkeypatch, deployed("failed"))      # cancelled: no BluegreenError
    assert run.history[0].result == "failed" and "interrupted" in run.history[0].error
    assert calls == []


def test_dry_runs_and_failures_before_a_plan_leave_no_trace(monkeypatch):
    assert after(monkeypatch, deployed(), dry_run=True)[0].history == []
    early = deployed("failed")
    early.plan = ""
    assert after(monkeypatch, early, error=DeployError("no ssh"))[0].history == []


def test_keep_zero_removes_nothing(monkeypatch):
    assert after(monkeypatch, deployed(), keep=0)[1] == []
