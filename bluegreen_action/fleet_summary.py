"""The step summary for several hosts, for a rollback, and the deploy history of each host.
Pure: builds on summary.py (one host's deploy) and adds what a fleet needs: a row per host
(untouched ones included), each host's details, and the last entries of its history."""
from __future__ import annotations

from .fleet import FleetResult, HostRun
from .history import HistoryEntry
from .summary import _secs, cell, code, md, render_summary
from .summary import _table as table

HISTORY_ROWS = 5
RESULT_MARK = {"success": "✅", "failed": "❌", "rolled-back": "⏪", "dry-run": "📝",
               "skipped": "⏭️"}


def render_fleet_summary(fleet: FleetResult, *, version: str = "") -> str:
    runs = fleet.runs
    if len(runs) == 1 and fleet.action == "deploy":
        run = runs[0]
        text = render_summary(run.result, run.phases)
        # an HTML block (the plan's <details>) ends only at a blank line: one before the history
        return _join([text.rstrip("\n"), "", *history_section(run), _version(version)])
    out = [_headline(fleet), ""]
    out += _hosts_table(fleet) + [""]
    failed = fleet.failed
    for run in runs:
        if run.result is None:
            continue
        body = render_summary(run.result, run.phases).rstrip("\n").split("\n")
        body[0] = "#" + body[0] if body[0].startswith("### ") else body[0]   # a level down
        if fleet.action == "rollback":
            body[0] = "#" + _rollback_line(run)
        opened = " open" if run is failed or len(runs) == 1 else ""
        out += [f"<details{opened}><summary>{RESULT_MARK.get(run.status, '')} "
                f"{md(run.target.display)}: {md(run.status)}</summary>", ""]
        out += body + [""] + history_section(run) + ["</details>", ""]
    out.append(_version(version))
    return _join(out)


def _headline(fleet: FleetResult) -> str:
    n = len(fleet.runs)
    done = sum(1 for r in fleet.runs if r.status == "success")
    hosts = f"{n} host{'s' if n > 1 else ''}"
    took = f" in {_secs(fleet.seconds)}" if fleet.seconds else ""
    failed = fleet.failed
    if fleet.action == "rollback":
        if failed is None:
            return f"### ⏪ Rolled back {hosts}: {code(fleet.tag)} serves again{took}"
        return (f"### ❌ Rollback stopped at {code(failed.target.display)}: {done} of {hosts} "
                f"switched back, {_untouched(fleet)} untouched")
    if fleet.result == "dry-run":
        return f"### 📝 Dry run of {code(fleet.tag)} on {hosts}, nothing was changed"
    if failed is None:
        return f"### ✅ Deployed {code(fleet.tag)} to {hosts}{took}"
    how = "rolled back" if failed.status == "rolled-back" else "failed"
    return (f"### ❌ Deploy of {code(fleet.tag)} {how} on {code(failed.target.display)}: "
            f"{done} of {hosts} deployed, {_untouched(fleet)} untouched")


def _untouched(fleet: FleetResult) -> int:
    return sum(1 for r in fleet.runs if r.result is None)


def _rollback_line(run: HostRun) -> str:
    r = run.result
    if r.error is None:
        sw = getattr(r, "switch_seconds", None)
        when = f" in {sw:.2f} s" if sw is not None else ""
        return (f"### ⏪ {code(r.tag)} serves again on {code(run.target.display)} "
                f"(was {code(r.previous_tag)}), switched{when}, no container started")
    return f"### ❌ Rollback on {code(run.target.display)} failed"


def _hosts_table(fleet: FleetResult) -> list[str]:
    rows = []
    for i, run in enumerate(fleet.runs, 1):
        r = run.result
        if r is None:
            rows.append((str(i), cell(run.target.display), run.role, "⏭️ skipped", "—", "—",
                         "untouched: an earlier host failed"))
            continue
        change = f"{cell(r.previous_tag) if r.previous_tag else '(none)'} → {cell(r.tag)}"
        note = md(r.error.message, True) if r.error else ""
        sw = getattr(r, "switch_seconds", None)
        if sw is not None and not r.error:
            note = f"switched in {sw:.2f} s, no container started"
        elif run.retention and not r.error:
            note = md(run.retention, True)
        rows.append((str(i), cell(run.target.display), run.role,
                     f"{RESULT_MARK.get(run.status, '')} {md(run.status, True)}", change,
                     _secs(r.seconds), note))
    return table(("#", "Host", "Role", "Result", "Change", "Took", "Note"), rows,
                 align=("r", "l", "l", "l", "l", "r", "l"))


def history_section(run: HostRun, rows: int = HISTORY_ROWS) -> list[str]:
    if not run.history:
        return []
    return [f"#### Deploy history of {code(run.target.display)} (latest {rows})", ""] \
        + history_table(run.history, rows) + [""]


def history_table(entries: list[HistoryEntry], rows: int = HISTORY_ROWS) -> list[str]:
    body = []
    for e in list(reversed(entries))[:rows]:
        by = md(e.who, True)
        if e.run_url:
            by = f"[{by}]({e.run_url})"
        change = f"{cell(e.old_tag) if e.old_tag else '(none)'} → {cell(e.new_tag)}"
        what = e.action + (f" ({e.strategy})" if e.strategy else "")
        body.append((cell(e.time.replace("T", " ").rstrip("Z")), md(what, True), change,
                     f"{RESULT_MARK.get(e.result, '')} {md(e.result, True)}", _secs(e.seconds), by))
    return table(("When (UTC)", "Action", "Change", "Result", "Took", "By"), body)


def _version(version: str) -> str:
    return f"<sub>bluegreen-action {md(version)}</sub>" if version else ""


def _join(parts: list[str]) -> str:
    return "\n".join(p for p in parts).strip("\n") + "\n"
