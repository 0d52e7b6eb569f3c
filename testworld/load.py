"""A bounded load generator that never retries.

    python -m testworld.load URL [--method GET|POST] [--concurrency 20] [--rate 400]
        [--duration 60] [--max-requests N] [--path /sleep?ms=3000] [--json OUT]

Each worker thread keeps one keep-alive `http.client.HTTPConnection`. A request that fails
for any reason (an exception, a closed keep-alive connection included, or a non-2xx status)
counts as failed; the connection is reopened and the request is NOT sent again. The run stops
by itself at the deadline or the request count, and on SIGTERM/SIGINT finishes the requests
in flight and then writes its report.

From Python, `with LoadGenerator(url, ...) as load: ...` runs it as a subprocess (the test
process's GIL cannot slow it down); `load.report` holds the report afterwards.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

READY_LINE = "load: running"


# --- pure report maths (unit-tested) ------------------------------------------------------

def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list (0 for an empty one)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def build_report(records: list[tuple], elapsed: float, meta: dict | None = None) -> dict:
    """Summarise request records.

    Each record is (t_sent, t_done, latency_s, ok, version_or_None, failure_kind_or_None),
    times in seconds since the run started.
    """
    records = sorted(records, key=lambda r: r[1])
    ok_latencies = sorted(r[2] * 1000 for r in records if r[3])
    failures = [r for r in records if not r[3]]
    versions: dict[str, dict] = {}
    sequence: list[dict] = []  # runs of the same version, in order of response time
    for sent, done, _lat, ok, version, _kind in records:
        if not ok:
            continue
        v = version if version is not None else "unknown"
        entry = versions.setdefault(v, {"count": 0, "first": done, "last": done, "last_sent": sent})
        entry["count"] += 1
        entry["last"] = done
        entry["last_sent"] = max(entry["last_sent"], sent)   # the newest request it answered
        if sequence and sequence[-1]["version"] == v:
            sequence[-1]["count"] += 1
            sequence[-1]["last"] = done
        else:
            sequence.append({"version": v, "count": 1, "first": done, "last": done})
    ok_count = len(records) - len(failures)
    report = {
        **(meta or {}),
        "elapsed": round(elapsed, 3),
        "sent": len(records),
        "ok": ok_count,
        "failed": len(failures),
        "failure_kinds": dict(Counter(r[5] for r in failures).most_common()),
        "failures": [{"t": round(r[0], 3), "kind": r[5]} for r in failures],
        "latency_ms": {
            "p50": round(percentile(ok_latencies, 50), 2),
            "p90": round(percentile(ok_latencies, 90), 2),
            "p99": round(percentile(ok_latencies, 99), 2),
            "max": round(ok_latencies[-1], 2) if ok_latencies else 0.0,
        },
        "rps": round(len(records) / elapsed, 1) if elapsed > 0 else 0.0,
        "versions": {v: {**e, "first": round(e["first"], 3), "last": round(e["last"], 3),
                         "last_sent": round(e["last_sent"], 3)} for v, e in versions.items()},
        "version_sequence": [{**s, "first": round(s["first"], 3), "last": round(s["last"], 3)}
                             for s in sequence],
    }
    return report


def summary_line(report: dict) -> str:
    lat = report["latency_ms"]
    versions = " ".join(f"{v}={e['count']}" for v, e in report["versions"].items()) or "-"
    kinds = "; ".join(f"{n}x {k}" for k, n in report["failure_kinds"].items())
    return (f"load {report.get('method', '')} {report.get('url', '')}: sent={report['sent']} "
            f"ok={report['ok']} failed={report['failed']} rps={report['rps']} "
            f"p50={lat['p50']}ms p99={lat['p99']}ms max={lat['max']}ms versions: {versions}"
            + (f" failures: {kinds}" if kinds else ""))


def failure_kind(exc: BaseException | None = None, status: int | None = None) -> str:
    if exc is None:
        return f"HTTP {status}"
    return f"{type(exc).__name__}: {exc}"[:200]


# --- the run ------------------------------------------------------------------------------

class _Run:
    def __init__(self, url, method, concurrency, rate, duration, max_requests, body, timeout):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port or 80
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.method, self.concurrency, self.rate = method, concurrency, rate
        self.duration, self.max_requests, self.timeout = duration, max_requests, timeout
        self.body = body.encode() if body is not None else None
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.claimed = 0
        self.records: list[tuple] = []
        self.first_done = threading.Event()

    def _claim(self) -> bool:
        with self.lock:
            if self.max_requests is not None and self.claimed >= self.max_requests:
                return False
            self.claimed += 1
            return True

    def _one(self, conn: http.client.HTTPConnection, t0: float):
        sent = time.monotonic()
        version = kind = None
        try:
            headers = {"Content-Type": "application/json"} if self.body is not None else {}
            conn.request(self.method, self.path, body=self.body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            ok = 200 <= resp.status < 300
            if ok:
                try:
                    version = json.loads(data).get("version")
                except (ValueError, AttributeError):
                    pass
            else:
                kind = failure_kind(status=resp.status)
        except Exception as exc:  # noqa: BLE001 - every failure counts, none is retried
            ok, kind = False, failure_kind(exc)
            conn.close()  # the next request opens a new connection
        done = time.monotonic()
        return (sent - t0, done - t0, done - sent, ok, version, kind)

    def _worker(self, index: int, t0: float, out: list):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        interval = self.concurrency / self.rate if self.rate else 0.0
        next_at = t0 + index * interval / self.concurrency  # spread the workers' phases
        deadline = t0 + self.duration
        while not self.stop.is_set():
            now = time.monotonic()
            if next_at > now and self.stop.wait(next_at - now):
                break
            if time.monotonic() >= deadline or not self._claim():
                break
            out.append(self._one(conn, t0))
            self.first_done.set()
            # keep the pace without bursting to catch up more than one interval
            next_at = max(next_at + interval, time.monotonic() - interval)
        conn.close()

    def run(self) -> dict:
        t0 = time.monotonic()
        started_at = time.time()
        outs = [[] for _ in range(self.concurrency)]
        threads = [threading.Thread(target=self._worker, args=(i, t0, outs[i]), daemon=True)
                   for i in range(self.concurrency)]
        for t in threads:
            t.start()
        for t in threads:
            while t.is_alive():
                t.join(0.2)  # short joins keep the main thread responsive to signals
        elapsed = time.monotonic() - t0
        records = [r for out in outs for r in out]
        meta = {"url": f"http://{self.host}:{self.port}{self.path}", "method": self.method,
                "concurrency": self.concurrency, "rate": self.rate, "duration": self.duration,
                "started_at": round(started_at, 3)}
        return build_report(records, elapsed, meta)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m testworld.load", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("url")
    ap.add_argument("--method", default="GET", choices=["GET", "POST"])
    ap.add_argument("--concurrency", type=int, default=20)
    ap.add_argument("--rate", type=float, default=400, help="requests/s in total (0: no limit)")
    ap.add_argument("--duration", type=float, default=60, help="seconds (hard bound)")
    ap.add_argument("--max-requests", type=int, default=None)
    ap.add_argument("--path", default=None, help="path+query replacing the URL's, e.g. /sleep?ms=3000")
    ap.add_argument("--body", default=None, help='POST body (default {"n": 1})')
    ap.add_argument("--timeout", type=float, default=30, help="per-request timeout, seconds")
    ap.add_argument("--json", dest="json_out", default=None, help="write the report here")
    ap.add_argument("--announce", action="store_true",
                    help=f"print {READY_LINE!r} once the first response is in (for a parent)")
    a = ap.parse_args(argv)
    if a.duration <= 0 or a.duration > 3600:
        ap.error("--duration must be in (0, 3600]")
    url = a.url
    if a.path:
        parts = urlsplit(a.url)
        url = f"{parts.scheme}://{parts.netloc}{a.path}"
    body = a.body if a.body is not None else ('{"n": 1}' if a.method == "POST" else None)
    run = _Run(url, a.method, a.concurrency, a.rate, a.duration, a.max_requests, body, a.timeout)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: run.stop.set())

    def announce():  # tell a parent process that traffic flows
        run.first_done.wait(a.duration)
        print(READY_LINE, flush=True)

    if a.announce:
        threading.Thread(target=announce, daemon=True).start()
    report = run.run()
    if a.json_out:
        tmp = f"{a.json_out}.part"
        Path(tmp).write_text(json.dumps(report, indent=1))
        os.replace(tmp, a.json_out)
    print(summary_line(report), flush=True)
    return 0


# --- Python API ---------------------------------------------------------------------------

class LoadGenerator:
    """Run the load generator as a subprocess.

        with LoadGenerator("http://127.0.0.1:18080/", method="POST", duration=30) as load:
            deploy()
        assert load.report["failed"] == 0

    Leaving the block stops the load (SIGTERM: in-flight requests finish) and reads the
    report; `wait()` instead lets it run to its own end. Entering waits until the first
    response came back, so traffic flows before the block's body starts.
    """

    def __init__(self, url, method="GET", concurrency=20, rate=400, duration=60,
                 max_requests=None, path=None, body=None, timeout=30, ready_timeout=15):
        self.args = [url, "--method", method, "--concurrency", str(concurrency),
                     "--rate", str(rate), "--duration", str(duration), "--timeout", str(timeout)]
        if max_requests is not None:
            self.args += ["--max-requests", str(max_requests)]
        if path:
            self.args += ["--path", path]
        if body is not None:
            self.args += ["--body", body]
        self.duration, self.ready_timeout = duration, ready_timeout
        self.report: dict | None = None
        self.proc: subprocess.Popen | None = None
        self.summary = ""

    def start(self) -> LoadGenerator:
        self._tmp = tempfile.TemporaryDirectory(prefix="bluegreen-load-")
        self._json = Path(self._tmp.name) / "report.json"
        root = str(Path(__file__).resolve().parent.parent)
        env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "testworld.load", *self.args, "--announce", "--json",
             str(self._json)],
            stdout=subprocess.PIPE, text=True, env=env, cwd=root)
        ready = threading.Event()
        lines: list[str] = []

        def read():
            for line in self.proc.stdout:
                lines.append(line.rstrip("\n"))
                if line.startswith(READY_LINE):
                    ready.set()
            ready.set()

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()
        self._lines = lines
        if not ready.wait(self.ready_timeout) or self.proc.poll() not in (None, 0):
            self.stop()
            raise RuntimeError(f"load generator did not start: {lines}")
        return self

    def _finish(self, timeout: float) -> dict:
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        self._reader.join(5)
        self.summary = next((ln for ln in reversed(self._lines) if ln.startswith("load ")), "")
        self.report = json.loads(self._json.read_text())
        self._tmp.cleanup()
        return self.report

    def wait(self) -> dict:
        """Let the run end by itself (deadline or count) and return the report."""
        return self._finish(self.duration + 60)

    def stop(self) -> dict | None:
        """SIGTERM: finish in-flight requests, write the report; return it."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self._finish(60)
        except (OSError, ValueError):
            return None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        if self.report is None:
            self.stop()
        return False


if __name__ == "__main__":
    sys.exit(main())
