"""The errors bluegreen-action raises, each with a message that names what failed,
the evidence, and what the user should do next.

    BluegreenError              base; exit code 1
    ├── InputError              a bad option or input; nothing was touched (exit 2)
    ├── ComposeFileError        the compose file cannot be used as given (exit 2)
    ├── ConnectionError_        SSH or the remote Docker Engine cannot be reached (exit 3)
    ├── ProxyError              the proxy (Caddy/HAProxy) cannot be read or changed (exit 4)
    ├── LockError               another deploy holds the host's lock (exit 5)
    └── DeployError             a step of the deploy failed; see `rolled_back` (exit 6)
        └── HealthError         a new container never became healthy
"""
from __future__ import annotations


class BluegreenError(Exception):
    exit_code = 1

    def __init__(self, message: str, *, hint: str = "", evidence: str = "",
                 file: str | None = None, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.evidence = evidence
        self.file = file
        self.line = line

    def __str__(self) -> str:
        parts = [self.message]
        if self.evidence:
            parts.append(self.evidence.rstrip())
        if self.hint:
            parts.append(f"Fix: {self.hint}")
        return "\n".join(parts)


class InputError(BluegreenError):
    exit_code = 2


class ComposeFileError(BluegreenError):
    exit_code = 2


class ConnectionError_(BluegreenError):
    exit_code = 3


class ProxyError(BluegreenError):
    exit_code = 4


class ProxyNotAnswering(ProxyError):
    """The proxy's admin interface refused or did not answer: misconfigured, or just started."""


class LockError(BluegreenError):
    exit_code = 5


class DeployError(BluegreenError):
    exit_code = 6

    def __init__(self, message: str, *, rolled_back: bool = False, **kw):
        super().__init__(message, **kw)
        self.rolled_back = rolled_back


class HealthError(DeployError):
    pass
