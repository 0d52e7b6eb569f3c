"""Load generator: report maths, and that it never re-sends a failed request."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from testworld import load
from testworld.load import LoadGenerator, build_report, percentile


def test_percentile_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50
    assert percentile(values, 90) == 90
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile([7.0], 99) == 7
    assert percentile([], 50) == 0


def test_report_counts_failures_latencies_and_version_sequence():
    # (t_sent, t_done, latency_s, ok, version, failure_kind)
    records = [
        (0.0, 0.010, 0.010, True, "v1", None),
        (0.1, 0.120, 0.020, True, "v1", None),
        (0.2, 0.230, 0.030, False, None, "HTTP 502"),
        (0.3, 0.340, 0.040, True, "v2", None),
        (0.4, 0.450, 0.050, False, None, "RemoteDisconnected: closed"),
        (0.5, 0.560, 0.060, False, None, "HTTP 502"),
        (0.6, 0.700, 0.100, True, "v2", None),
    ]
    r = build_report(records, elapsed=1.0, meta={"method": "POST"})
    assert (r["sent"], r["ok"], r["failed"]) == (7, 4, 3)
    assert r["failure_kinds"] == {"HTTP 502": 2, "RemoteDisconnected: closed": 1}
    assert [f["t"] for f in r["failures"]] == [0.2, 0.4, 0.5]
    assert r["latency_ms"] == {"p50": 20.0, "p90": 100.0, "p99": 100.0, "max": 100.0}
    assert r["rps"] == 7.0
    assert r["versions"] == {"v1": {"count": 2, "first": 0.01, "last": 0.12, "last_sent": 0.1},
                             "v2": {"count": 2, "first": 0.34, "last": 0.7, "last_sent": 0.6}}
    assert [(s["version"], s["count"]) for s in r["version_sequence"]] == [("v1", 2), ("v2", 2)]
    assert "failed=3" in load.summary_line(r)


def test_interleaved_versions_show_in_sequence():
    records = [(i, i, 0.001, True, v, None) for i, v in enumerate(["v1", "v2", "v1", "v2"])]
    seq = build_report(records, 1.0)["version_sequence"]
    assert [s["version"] for s in seq] == ["v1", "v2", "v1", "v2"]


class _CloseAfterEachResponse(BaseHTTPRequestHandler):
    """Answers one request per connection, then closes it WITHOUT saying so (keep-alive
    promised): the client's next request on that connection must fail, not be re-sent."""

    protocol_version = "HTTP/1.1"
    received = 0
    lock = threading.Lock()

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        with self.lock:
            type(self).received += 1
        body = b'{"version": "vX"}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture
def closing_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CloseAfterEachResponse)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_a_closed_keepalive_connection_is_a_failure_and_never_resent(closing_server):
    run = load._Run(closing_server, "POST", concurrency=1, rate=200, duration=10,
                    max_requests=10, body='{"n": 1}', timeout=5)
    report = run.run()
    assert report["sent"] == 10
    assert report["failed"] >= 4, report["failure_kinds"]
    assert report["ok"] + report["failed"] == 10
    # every request the server saw was answered OK: failed ones were not sent again
    time.sleep(0.1)
    assert _CloseAfterEachResponse.received == report["ok"]


def test_cli_stops_on_sigterm_after_in_flight_requests(closing_server, tmp_path):
    # a long run, stopped early by leaving the block: the report comes back promptly
    started = time.monotonic()
    with LoadGenerator(closing_server, method="POST", concurrency=2, rate=20,
                       duration=60) as gen:
        time.sleep(0.5)
    assert time.monotonic() - started < 10
    report = gen.report
    assert report["sent"] > 0 and report["elapsed"] < 10
    assert set(report["versions"]) == {"vX"}
    assert gen.summary.startswith("load POST")


def test_cli_stops_by_itself_at_max_requests(closing_server):
    gen = LoadGenerator(closing_server, method="POST", concurrency=2, rate=0, duration=30,
                        max_requests=5).start()
    report = gen.wait()
    assert report["sent"] == 5
