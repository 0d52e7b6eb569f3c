"""GitHub Actions' side of the reporter: log groups, annotations, masks, outputs.

Workflow commands are lines on stdout that the runner reads (`::group::`, `::error ...::`,
`::add-mask::`, ...). Text that is not ours (remote command output, container logs, Caddy's
error text, even engine messages that quote them) must never be read as one, so every
non-command line is written while the runner's command processing is switched off with
`::stop-commands::<random token>` and switched back on with `::<token>::` only to emit our
own commands. Escaping alone is not enough: the runner trims leading whitespace before it
looks for `::`, and still honours the old `##[command]` form anywhere in a line.

Escaping follows @actions/core (command.ts): in a command's message `%`, CR and LF become
`%25`, `%0D`, `%0A`; in its properties `:` and `,` also become `%3A` and `%2C`.
"""
from __future__ import annotations

import re
import secrets as _random
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from .errors import (
    BluegreenError,
    ComposeFileError,
    ConnectionError_,
    DeployError,
    HealthError,
    InputError,
    LockError,
    ProxyError,
)
from .report import Phase, Reporter

_PEM_ARMOR = re.compile(r"^-----(BEGIN|END) [A-Z0-9 ]+-----$")


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workflow_command(name: str, message: str = "", **properties) -> str:
    """`::name key=value,...::message`, escaped; properties that are None or "" are left out."""
    props = ",".join(f"{k}={escape_property(str(v))}" for k, v in properties.items()
                     if v is not None and v != "")
    return f"::{name}{' ' + props if props else ''}::{escape_data(message)}"


def mask_values(secret: str) -> list[str]:
    """What to register with `::add-mask::` for a secret: the value, and each line of a
    multi-line one (the runner matches masks line by line), except PEM armor lines and
    fragments too short to mask without hiding ordinary words."""
    secret = secret.strip()
    if not secret:
        return []
    values = [secret] if "\n" not in secret and "\r" not in secret else []
    for line in secret.splitlines():
        line = line.strip()
        if len(line) >= 4 and not _PEM_ARMOR.match(line) and line not in values:
            values.append(line)
    return values


ERROR_TITLES: list[tuple[type, str]] = [
    (InputError, "Invalid input"),
    (ComposeFileError, "Compose file problem"),
    (ConnectionError_, "Cannot reach the server"),
    (ProxyError, "Proxy problem"),
    (LockError, "Another deploy holds the lock"),
    (HealthError, "New containers did not become healthy"),
    (DeployError, "Deploy failed"),
]


def error_title(err: BluegreenError) -> str:
    if isinstance(err, DeployError) and err.rolled_back:
        return "Deploy failed and was rolled back"
    for cls, title in ERROR_TITLES:
        if isinstance(err, cls):
            return getattr(err, "title", None) or title
    return getattr(err, "title", None) or "Deploy failed"


@dataclass
class GitHubReporter(Reporter):
    """The Reporter that the Action uses: groups, annotations and protected text."""
    verbose: bool = True                  # every command and remote line, inside groups
    workspace: Path | None = None         # annotation paths are made relative to it
    _token: str = field(default_factory=lambda: _random.token_hex(16), init=False, repr=False)
    _commands_on: bool = field(default=True, init=False, repr=False)
    _group_open: bool = field(default=False, init=False, repr=False)
    _secrets: list[str] = field(default_factory=list, init=False, repr=False)
    _last_evidence: str = field(default="", init=False, repr=False)

    # -- the two kinds of line ------------------------------------------------------------
    def command(self, line: str) -> None:
        """One of our own workflow commands (already escaped)."""
        self._resume()
        self.stream.write(line + "\n")
        self.stream.flush()

    def _resume(self) -> None:
        if not self._commands_on:
            self.stream.write(f"::{self._token}::\n")
            self._commands_on = True

    def text(self, text: str) -> None:
        """Lines the runner must show and never interpret."""
        if self._commands_on:
            self.stream.write(f"::stop-commands::{self._token}\n")
            self._commands_on = False
        for line in self.redact(text).splitlines() or [""]:
            self.stream.write(line + "\n")
        self.stream.flush()

    def finish(self) -> None:
        """Close an open group and switch command processing back on (for later steps)."""
        if self._group_open:
            self.command("::endgroup::")
            self._group_open = False
        self._resume()
        self.stream.flush()

    def redact(self, text: str) -> str:
        for s in self._secrets:
            text = text.replace(s, "***")
        return text

    # -- Reporter ---------------------------------------------------------------------------
    def _line(self, text: str) -> None:
        self.text("\n".join(f"[{self.elapsed():6.1f}s] {line}" for line in text.splitlines() or [""]))

    def _open(self, name: str) -> None:
        if self._group_open:   # groups do not nest in the runner's log
            self.command("::endgroup::")
        self.command(workflow_command("group", _one_line(self.redact(name))))
        self._group_open = True

    def _close(self, p: Phase) -> None:
        mark = "✔" if p.status == "ok" else "✘"
        self._line(f"{mark} {p.name} ({p.seconds:.1f}s)")
        if self._group_open:
            self.command("::endgroup::")
            self._group_open = False
        if p.status != "ok":   # visible without opening the group
            self._line(f"✘ {p.name} failed after {p.seconds:.1f}s")

    def warning(self, msg: str, file: str | None = None, line: int | None = None,
                title: str | None = None) -> None:
        file = self.relative(file)
        self.command(workflow_command("warning", self.redact(msg), title=title, file=file,
                                      line=line if file else None))

    def error(self, err: BluegreenError) -> None:
        self.annotate_error(err)
        if err.evidence and err.evidence == self._last_evidence:
            self._line("(evidence as above)")
        elif err.evidence:
            self._last_evidence = err.evidence   # shown, not folded: it is what one looks for
            self._line("evidence:")
            self.text("\n".join("    " + line for line in err.evidence.rstrip().splitlines()))

    def annotate_error(self, err: BluegreenError, title: str | None = None) -> None:
        file = self.relative(err.file)
        hint = err.hint
        if hint.startswith("expected "):          # an input's expected form
            hint = "Expected: " + hint[len("expected "):]
        elif hint:
            hint = "Fix: " + hint
        message = err.message + (f"\n{hint}" if hint else "")
        self.command(workflow_command("error", self.redact(message), title=title or error_title(err),
                                      file=file, line=err.line if file else None))

    def notice(self, msg: str, title: str | None = None) -> None:
        self.command(workflow_command("notice", self.redact(msg), title=title))

    def mask(self, secret: str) -> None:
        for value in mask_values(secret):
            self.command(workflow_command("add-mask", value))
            self._secrets.append(value)
        self._secrets.sort(key=len, reverse=True)   # redact the longest match first

    # -- paths ------------------------------------------------------------------------------
    def relative(self, file: str | None) -> str | None:
        """Annotation paths are relative to the repository root (the workspace)."""
        if not file:
            return None
        p = Path(file)
        if self.workspace and p.is_absolute():
            try:
                return p.resolve().relative_to(self.workspace.resolve()).as_posix()
            except ValueError:
                return file
        return p.as_posix()


def _one_line(text: str) -> str:
    return " ".join(text.split())


# -- file commands -----------------------------------------------------------------------

_OUTPUT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def format_outputs(outputs: dict[str, str], delimiter: str | None = None) -> str:
    """`name<<DELIM\\nvalue\\nDELIM\\n` for each output: safe for any value, multi-line ones
    included, as long as the delimiter appears in none of them (a random one never does;
    a given one that does is refused)."""
    out = []
    for name, value in outputs.items():
        if not _OUTPUT_NAME.match(name):
            raise ValueError(f"bad output name {name!r}")
        value = "" if value is None else str(value)
        delim = delimiter or f"ghadelimiter_{uuid.uuid4()}"
        if delim in value or delim in name:
            raise ValueError("the output delimiter occurs in the value")
        out.append(f"{name}<<{delim}\n{value}\n{delim}\n")
    return "".join(out)


def write_outputs(path: str | Path, outputs: dict[str, str]) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(format_outputs(outputs))


def append_summary(path: str | Path, markdown: str) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(markdown if markdown.endswith("\n") else markdown + "\n")
