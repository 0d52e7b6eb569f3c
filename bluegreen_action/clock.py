"""Time, behind a seam so waits can be tested without waiting."""
from __future__ import annotations

import time


class Clock:
    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)
