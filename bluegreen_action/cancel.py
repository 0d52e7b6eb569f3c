"""A cancelled job: the front doors turn SIGTERM, SIGINT and SIGHUP into `Cancelled`, an
exception raised wherever the deploy is, so every `with` and `finally` unwinds: the engine
leaves traffic on healthy colours and gives the deploy lock back, the SSH connection
closes, the secrets' folder is removed. GitHub cancels a job with SIGINT, then SIGTERM
7.5 s later, then SIGKILL: only the first signal interrupts, later ones are ignored so
they cannot cut that cleanup short (a SIGKILL still can: lock.py's keepalive covers it).
As PID 1 in a container, Python would otherwise ignore SIGTERM altogether."""
from __future__ import annotations

import signal


class Cancelled(BaseException):
    """Not an Exception: `except Exception` in the deploy must not swallow it."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def install(signals=SIGNALS) -> None:
    """From now on the first of these signals raises Cancelled; the following are ignored."""
    fired = []

    def handler(signum, _frame):
        if fired:
            return
        fired.append(signum)
        raise Cancelled(signum)

    for sig in signals:
        signal.signal(sig, handler)
