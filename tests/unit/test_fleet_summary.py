import json

from bluegreen_action.engine import DeployResult
from bluegreen_action.errors import HealthError
from bluegreen_action.fleet import FleetResult, HostRun
from bluegreen_action.fleet_action import fleet_outputs, outputs_result
from bluegreen_action.fleet_summary import history_table, render_fleet_summary
from bluegreen_action.history import Origin, make_entry
from bluegreen_action.report import Phase
from bluegreen_action.rollback import RollbackResult
from bluegreen_action.ssh import SshTarget

A, B, C = SshTarget("a"), SshTarget("b", 2222), SshTarget("c")


def ok(host, prev="v1", tag="v2", seconds=5.2):
    return DeployResult("success", host=host, project="shop", tag=tag, previous_tag=prev,
                        seconds=seconds)


def entry(new, old, result="success", **kw):
    return make_entry(action="deploy", project="shop", host="h", result=result, new_tag=new,
                      old_tag=old, origin=kw.pop("origin", Origin("ann@laptop")),
                      strategy="blue-green", seconds=5.0, epoch=1_800_000_000, **kw)


def test_a_stopped_fleet_shows_every_host_and_who_was_left_untouched():
    bad = DeployResult("rolled-back", host="deploy@b:2222", project="shop", tag="broken",
                       previous_tag="v1", seconds=9.0)
    bad.error = HealthError("web-blue did not become healthy within 8s", hint="fix it")
    fleet = FleetResult("deploy", "broken", [
        HostRun(A, "canary", ok("deploy@a:22", tag="broken"), [Phase("Connect", 0.5, "ok")]),
        HostRun(B, "next", bad, [Phase("Boot blue", 8, "failed")], [entry("broken", "v1", "rolled-back")]),
        HostRun(C, "next")], seconds=20)
    text = render_fleet_summary(fleet, version="1.0")
    assert text.startswith("### ❌ Deploy of `broken` rolled back on `deploy@b:2222`: "
                           "1 of 3 hosts deployed, 1 untouched")
    rows = [line for line in text.splitlines() if line.startswith("| ")][2:5]
    assert "`deploy@a:22` | canary | ✅ success" in rows[0]
    assert "⏪ rolled-back" in rows[1] and "did not become healthy" in rows[1]
    assert rows[2].endswith("untouched: an earlier host failed |")
    assert "<details open><summary>⏪ `deploy@b:2222`: rolled-back</summary>" in text
    assert "#### Deploy history of `deploy@b:2222` (latest 5)" in text
    assert text.rstrip().endswith("<sub>bluegreen-action 1.0</sub>")


def assert_markdown_blocks_end(text):
    """GitHub ends an HTML block (<details>...) only at a blank line: Markdown right after
    `</details>` would be shown raw. And a heading needs a blank line before it."""
    lines = text.splitlines()
    for i, line in enumerate(lines[:-1]):
        if line.strip() == "</details>":
            assert lines[i + 1] == "", f"line {i + 2} follows </details>: {lines[i + 1]!r}"
        if lines[i + 1].startswith("#"):
            assert line == "", f"heading {lines[i + 1]!r} follows {line!r}"


def test_one_host_keeps_the_single_host_summary_and_adds_its_history():
    result = ok("deploy@a:22")
    result.plan = "1. pull the new images"
    run = HostRun(A, "only", result, [Phase("Connect", 0.5, "ok")],
                  [entry("v1", None), entry("v2", "v1")])
    text = render_fleet_summary(FleetResult("deploy", "v2", [run]), version="1.0")
    assert text.startswith("### ✅ Deployed `v1` → `v2`")
    assert "| When (UTC) | Action | Change | Result | Took | By |" in text
    assert_markdown_blocks_end(text)


def test_one_failed_host_ends_the_plan_block_before_its_history():
    bad = DeployResult("failed", host="deploy@a:22", project="shop", tag="v3",
                       previous_tag="v2", seconds=1.0, plan="1. pull the new images")
    bad.error = HealthError("the pre-deploy command failed (exit 4)", evidence="no table")
    run = HostRun(A, "only", bad, [Phase("Run the pre-deploy command", 0.4, "failed")],
                  [entry("v3", "v2", "failed")])
    text = render_fleet_summary(FleetResult("deploy", "v3", [run]), version="1.0")
    assert "<summary>The plan</summary>" in text and "#### Deploy history of" in text
    assert_markdown_blocks_end(text)


def test_several_hosts_end_every_html_block():
    results = [ok("deploy@a:22"), ok("deploy@b:2222")]
    for r in results:
        r.plan = "1. pull the new images"
    fleet = FleetResult("deploy", "v2", [
        HostRun(A, "canary", results[0], [Phase("Connect", 0.5, "ok")], [entry("v2", "v1")]),
        HostRun(B, "next", results[1], [Phase("Connect", 0.5, "ok")], [entry("v2", "v1")])])
    assert_markdown_blocks_end(render_fleet_summary(fleet, version="1.0"))


def test_rollback_names_the_tag_that_serves_and_the_switch_time():
    r = RollbackResult("success", host="deploy@a:22", project="shop", tag="v1", previous_tag="v2",
                       seconds=1.1, switch_seconds=0.08, colour="blue")
    fleet = FleetResult("rollback", "v1", [HostRun(A, "only", r)], seconds=1.2)
    text = render_fleet_summary(fleet)
    assert text.startswith("### ⏪ Rolled back 1 host: `v1` serves again")
    assert "switched in 0.08 s, no container started" in text
    assert "\n#### ⏪ `v1` serves again on `deploy@a:22` (was `v2`), switched in 0.08 s" in text
    out = fleet_outputs(fleet)
    assert out["switch-seconds"] == "0.080"
    assert json.loads(out["hosts"])[0] == {"host": "deploy@a:22", "role": "only",
                                           "result": "success", "previous-tag": "v2",
                                           "tag": "v1", "seconds": 1.1}


def test_history_links_the_run():
    o = Origin("octo (deploy)", "https://github.com/acme/shop/actions/runs/1")
    rows = history_table([entry("v2", "v1", origin=o)])
    assert rows[2].endswith("| [octo (deploy)](https://github.com/acme/shop/actions/runs/1) |")


def test_outputs_describe_the_failing_host_else_the_canary():
    bad = DeployResult("failed", host="deploy@b:2222", tag="v2")
    bad.error = HealthError("boom")
    fleet = FleetResult("deploy", "v2", [HostRun(A, "canary", ok("deploy@a:22")),
                                         HostRun(B, "next", bad), HostRun(C, "next")])
    r = outputs_result(fleet, "a, b, c")
    assert r.result == "failed" and r.error is bad.error and r.host == "a, b, c"
    assert [h["result"] for h in json.loads(fleet_outputs(fleet)["hosts"])] == [
        "success", "failed", "skipped"]
    good = FleetResult("deploy", "v2", [HostRun(A, "only", ok("deploy@a:22"))])
    assert outputs_result(good, "deploy@a:22").previous_tag == "v1"
