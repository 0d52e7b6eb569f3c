"""The step summary: a deploy's result as GitHub-flavoured Markdown. Pure: no I/O.

What a person looks for, in order: did it work, where, which version replaced which, how
long each phase took, what runs and takes traffic now; on failure, what happened, the
evidence, and what to do next. Every text that came from elsewhere (container names, error
text, logs) is escaped, so it cannot break the tables or inject markup.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

from .colors import Color
from .engine import DeployResult
from .errors import ComposeFileError, ConnectionError_, InputError
from .image_ref import ImageRef
from .plan import PRE_DEPLOY_PHASE
from .report import Phase

COLOUR_MARK = {"blue": "🔵", "green": "🟢"}
STATUS_MARK = {"ok": "✅", "failed": "❌", "running": "⏸️"}
EVIDENCE_LINES = 40
BEFORE_ANY_SWITCH = ("Pull the new images", PRE_DEPLOY_PHASE)   # phases that move no traffic


def render_summary(result: DeployResult, phases: Sequence[Phase], *, version: str = "") -> str:
    """The whole summary for one deploy."""
    out = [_headline(result), ""]
    out += _facts(result)
    if result.error is not None:
        out += _failure(result, phases)
    if result.images:
        out += _images(result)
    if phases:
        out += _timeline(phases, result.seconds)
    if result.final:
        out += _final_state(result)
    if result.plan and result.result == "dry-run":
        out += ["#### Plan", "", _fence(result.plan, "text"), ""]
    elif result.plan and result.error is not None:
        out += ["<details><summary>The plan</summary>", "", _fence(result.plan, "text"), "",
                "</details>", ""]
    if version:
        out += [f"<sub>bluegreen-action {md(version)}</sub>", ""]
    return "\n".join(out).rstrip("\n") + "\n"


# -- sections --------------------------------------------------------------------------------

def _headline(r: DeployResult) -> str:
    where = f"{code(r.project)} on {code(r.host)}" if r.project else code(r.host)
    old = r.previous_tag
    change = f"{code(old)} → {code(r.tag)}" if old and old != r.tag else code(r.tag)
    took = f" in {_secs(r.seconds)}" if r.seconds else ""
    if r.result == "success":
        return f"### ✅ Deployed {change} to {where}{took}"
    if r.result == "dry-run":
        return f"### 📝 Dry run: {change} to {where}, nothing was changed"
    if r.result == "rolled-back":
        still = f", {code(old)} still serves" if old else ""
        return f"### ⏪ Deploy of {code(r.tag)} to {where} failed and was rolled back{still}"
    return f"### ❌ Deploy of {code(r.tag)} to {where} failed"


def _facts(r: DeployResult) -> list[str]:
    header = ["Host"] + (["Project"] if r.project else []) + ["Tag", "Result", "Duration"]
    tag = (f"{cell(r.previous_tag) if r.previous_tag else '(first deploy)'} → {cell(r.tag)}"
           if r.images else cell(r.tag))
    row = [cell(r.host)] + ([cell(r.project)] if r.project else []) + [
        tag, md(r.result, True), _secs(r.seconds)]
    return _table(header, [row]) + [""]


def _images(r: DeployResult) -> list[str]:
    rows = []
    for service, (old, new) in r.images.items():
        new_ref = ImageRef.parse(new)
        old_ref = ImageRef.parse(old) if old else None
        if old_ref and old_ref.name != new_ref.name:   # another repository: show both in full
            before, after = cell(old), cell(new)
        else:
            before = cell(_tag_of(old_ref)) if old_ref else "—"
            after = cell(_tag_of(new_ref))
        unchanged = " (unchanged)" if old == new else ""
        rows.append((cell(service), cell(new_ref.name), before, after + unchanged))
    header = ("Service", "Image", "Before", {"success": "After", "dry-run": "Planned"}.get(
        r.result, "Attempted"))
    return ["#### Images", ""] + _table(header, rows) + [""]


def _timeline(phases: Sequence[Phase], total: float) -> list[str]:
    rows = []
    at = 0.0
    for n, p in enumerate(phases, 1):
        rows.append((STATUS_MARK.get(p.status, ""), str(n), md(p.name, True), _secs(p.seconds)))
        at += p.seconds
    rows.append(("", "", "**Total**", f"**{_secs(total or at)}**"))
    return (["#### Timeline", ""]
            + _table(("", "#", "Phase", "Took"), rows, align=("c", "r", "l", "r")) + [""])


def _final_state(r: DeployResult) -> list[str]:
    routed = {c for colours in r.routed.values() for c in colours}
    rows = []
    for service, s in r.final.items():
        colour = next((c.value for c in Color if service.endswith(f"-{c.value}")), "")
        state = s.status + (f", {s.health}" if s.health else "")
        state_mark = "✅" if s.running and s.health in (None, "healthy") else "⚠️"
        if not r.routed:
            traffic = "?"
        else:
            traffic = "✅ receives traffic" if colour in routed else "— no traffic"
        tag = ImageRef.parse(s.image).tag or s.image
        rows.append((f"{COLOUR_MARK.get(colour, '')} {colour}".strip(), cell(service), cell(s.name),
                     cell(tag), f"{state_mark} {md(state, True)}", traffic))
    return (["#### Final state", ""]
            + _table(("Colour", "Service", "Container", "Tag", "State", "Traffic"), rows) + [""])


def _failure(r: DeployResult, phases: Sequence[Phase]) -> list[str]:
    e = r.error
    failed = next((p.name for p in reversed(phases) if p.status == "failed"), None)
    out = ["#### What happened", ""]
    where = f" during **{md(failed)}**" if failed else ""
    out.append(f"The deploy stopped{where}: {md(e.message)}")
    problems = getattr(e, "problems", ())   # every bad input, with the form expected
    if problems:
        out.append("")
        out += [f"- {md(p.message)}; {md(p.hint)}" for p in problems]
    if e.file:
        out.append("")
        out.append(f"In {code(e.file + (f':{e.line}' if e.line else ''))}.")
    out += ["", f"**State of the server:** {_server_state(r, phases)}", ""]
    if e.hint:
        out += [f"**What to do:** {md(e.hint)}", ""]
    if e.evidence:
        lines = e.evidence.rstrip().splitlines()
        shown = lines[-EVIDENCE_LINES:]
        cut = f" (last {len(shown)} of {len(lines)} lines)" if len(lines) > len(shown) else ""
        out += ["<details open><summary>Evidence" + cut + "</summary>", "",
                _fence("\n".join(shown), "text"), "", "</details>", ""]
    return out


def _server_state(r: DeployResult, phases: Sequence[Phase]) -> str:
    e = r.error
    if isinstance(e, (InputError, ComposeFileError, ConnectionError_)) or not any(
            p.name.startswith("Read the host") and p.status == "ok" for p in phases):
        return "nothing was changed."
    if r.result == "rolled-back":
        prev = f" ({code(r.previous_tag)})" if r.previous_tag else ""
        return (f"rolled back: the previous version{prev} runs and serves again; "
                "nothing of the new version is left running.")
    if r.result == "dry-run":
        return "nothing was changed (dry run)."
    changing = [p for p in phases if p.status != "ok" and not p.name.startswith(
        ("Check", "Connect", "Read"))]
    if not changing:
        return "nothing was changed."
    if all(p.name in BEFORE_ANY_SWITCH for p in changing):
        return ("nothing was switched: the app's containers and the proxy's routes are as "
                "they were before the deploy.")
    return ("it may be part-way: traffic stays on the colour that was healthy. Check it with "
            "`docker compose ps` on the server, then deploy a known-good tag.")


# -- Markdown helpers --------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
# user@host and URLs: GitHub would turn them into (mailto) links; they are shown as code
_LINKY = re.compile(r"(?<![\w@])((?:[\w.+-]+@|[a-z][a-z0-9+.-]*://|www\.)[^\s`]*[^\s`.,;:)])")


def md(text: str, table: bool = False) -> str:
    """Plain text for a Markdown paragraph or table cell: one line, markup escaped, and
    `backquoted` spans kept as code (the engine's messages quote commands that way)."""
    text = " ".join(str(text).split())
    out = []
    for part in re.split(r"(`[^`]+`)", text):
        if len(part) > 2 and part.startswith("`") and part.endswith("`"):
            out.append(code(part[1:-1], table))
            continue
        for i, piece in enumerate(_LINKY.split(part)):
            if i % 2:
                out.append(code(piece, table))
            else:
                piece = piece.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                out.append(_MD_SPECIAL.sub(r"\\\1", piece))
    return "".join(out)


def code(text: str | None, table: bool = False) -> str:
    """Inline code that holds any text: a backtick fence longer than any run inside it;
    in a table cell `|` is escaped (GitHub reads `\\|` as `|` inside code in a table)."""
    text = " ".join(str(text).split()) if text is not None else ""
    if not text:
        return "—"
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    if table:
        text = text.replace("|", "\\|")
    return f"{fence}{pad}{text}{pad}{fence}"


def cell(text: str | None) -> str:
    return code(text, table=True)


def _fence(text: str, lang: str = "") -> str:
    longest = max((len(m) for m in re.findall(r"`{3,}", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{text}\n{fence}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], align: Sequence[str] = ()) -> list[str]:
    marks = {"l": "---", "r": "---:", "c": ":---:"}
    sep = [marks[align[i]] if i < len(align) else "---" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _tag_of(ref: ImageRef) -> str:
    return ref.tag or (ref.digest[:19] if ref.digest else "latest")


def _secs(seconds: float) -> str:
    if seconds >= 60:
        return f"{int(seconds // 60)} min {seconds % 60:.0f} s"
    return f"{seconds:.1f} s"
