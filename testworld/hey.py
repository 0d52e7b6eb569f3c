"""Run Debian's `hey` in the background and parse its report.

    with Hey("http://127.0.0.1:18080/", duration=30, concurrency=20, rate=20) as hey:
        deploy()
    assert hey.report["failed"] == 0

`rate` is hey's -q: requests/s PER WORKER (20 workers x 20 = ~400/s). hey is a Go client:
it silently retries idempotent requests on a closed keep-alive connection, which hides
failures a non-retrying client sees; use testworld.load for those.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess

_STATUS = re.compile(r"^\s*\[(\d{3})\]\s+(\d+) responses", re.M)
_ERROR = re.compile(r"^\s*\[(\d+)\]\s+(.+)$", re.M)
_RPS = re.compile(r"Requests/sec:\s+([\d.]+)")


def parse(output: str) -> dict:
    """Parse hey's text report into {ok, failed, status_counts, errors, rps}."""
    status_counts: dict[int, int] = {}
    part = output.split("Status code distribution:", 1)
    if len(part) == 2:
        block = part[1].split("Error distribution:", 1)[0]
        for code, count in _STATUS.findall(block):
            status_counts[int(code)] = status_counts.get(int(code), 0) + int(count)
    errors: dict[str, int] = {}
    part = output.split("Error distribution:", 1)
    if len(part) == 2:
        for count, message in _ERROR.findall(part[1]):
            errors[message.strip()] = errors.get(message.strip(), 0) + int(count)
    ok = sum(n for code, n in status_counts.items() if 200 <= code < 300)
    failed = sum(n for code, n in status_counts.items() if not 200 <= code < 300)
    failed += sum(errors.values())
    rps = _RPS.search(output)
    return {"ok": ok, "failed": failed, "sent": ok + failed, "status_counts": status_counts,
            "errors": errors, "rps": float(rps.group(1)) if rps else 0.0}


def command(url, duration, concurrency=20, rate=20, method="GET", body=None) -> list[str]:
    cmd = ["hey", "-z", f"{duration:g}s", "-c", str(concurrency), "-q", f"{rate:g}", "-m", method]
    if body is not None or method == "POST":
        cmd += ["-d", body if body is not None else '{"n": 1}', "-T", "application/json"]
    return cmd + [url]


class Hey:
    """hey as a background process; leaving the block stops it early (SIGINT: hey then
    prints its report), `wait()` lets it run its whole duration."""

    def __init__(self, url, duration=30, concurrency=20, rate=20, method="GET", body=None):
        if not shutil.which("hey"):
            raise RuntimeError("hey is not installed (scripts/install-system.sh installs it)")
        self.cmd = command(url, duration, concurrency, rate, method, body)
        self.duration = duration
        self.proc: subprocess.Popen | None = None
        self.output = ""
        self.report: dict | None = None

    def start(self) -> Hey:
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)
        return self

    def wait(self) -> dict:
        self.output, _ = self.proc.communicate(timeout=self.duration + 60)
        if self.proc.returncode != 0:
            raise RuntimeError(f"hey failed ({self.proc.returncode}): {self.output[-2000:]}")
        self.report = parse(self.output)
        return self.report

    def stop(self) -> dict:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        return self.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        if self.report is None:
            self.stop()
        return False
