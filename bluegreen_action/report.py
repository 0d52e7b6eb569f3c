"""How progress reaches a person. The engine only calls these methods; the console and
GitHub Actions front doors decide the format."""
from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass, field
from typing import TextIO

from .clock import Clock
from .errors import BluegreenError


@dataclass
class Phase:
    name: str
    seconds: float = 0.0
    status: str = "running"     # running | ok | failed


@dataclass
class Reporter:
    """Plain terminal output: each line prefixed with the elapsed time."""
    stream: TextIO = field(default_factory=lambda: sys.stdout)
    clock: Clock = field(default_factory=Clock)
    verbose: bool = False
    phases: list[Phase] = field(default_factory=list)

    def __post_init__(self):
        self._t0 = self.clock.now()

    def elapsed(self) -> float:
        return self.clock.now() - self._t0

    def _line(self, text: str) -> None:
        for line in text.splitlines() or [""]:
            self.stream.write(f"[{self.elapsed():6.1f}s] {line}\n")
        self.stream.flush()

    @contextlib.contextmanager
    def phase(self, name: str):
        p = Phase(name)
        self.phases.append(p)
        start = self.clock.now()
        self._open(name)
        try:
            yield p
            p.status = "ok"
        except BaseException:
            p.status = "failed"
            raise
        finally:
            p.seconds = self.clock.now() - start
            self._close(p)

    def _open(self, name: str) -> None:
        self._line(f"▶ {name}")

    def _close(self, p: Phase) -> None:
        self._line(f"{'✔' if p.status == 'ok' else '✘'} {p.name} ({p.seconds:.1f}s)")

    def info(self, msg: str) -> None:
        self._line(f"  {msg}")

    def detail(self, msg: str) -> None:
        """Command lines and remote output: shown with --verbose (always inside CI groups)."""
        if self.verbose:
            self._line(f"    {msg}")

    def warning(self, msg: str, file: str | None = None, line: int | None = None) -> None:
        where = f" ({file}:{line})" if file and line else ""
        self._line(f"⚠ {msg}{where}")

    def error(self, err: BluegreenError) -> None:
        where = f" ({err.file}:{err.line})" if err.file and err.line else ""
        self._line(f"✘ error: {err.message}{where}")
        if err.evidence:
            self._line(err.evidence)
        if err.hint:
            self._line(f"  fix: {err.hint}")

    def mask(self, secret: str) -> None:
        """Secrets are never printed by this reporter; GitHub's also masks them in the log."""
