"""The sample app, run as a subprocess on a random loopback port."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[3] / "testworld" / "app" / "app.py"


class App:
    def __init__(self, **env):
        full = dict(os.environ, PORT="0", BIND="127.0.0.1", APP_VERSION="v9", **env)
        self.proc = subprocess.Popen([sys.executable, str(APP)], env=full,
                                     stdout=subprocess.PIPE, text=True)
        self.lines = []
        while True:
            line = self.proc.stdout.readline()
            assert line, f"app exited early: {self.lines}"
            self.lines.append(line)
            if m := re.search(r"listening on port (\d+)", line):
                self.port = int(m.group(1))
                break

    def conn(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)

    def term(self, timeout=10):
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        self.lines += self.proc.stdout.readlines()
        return code

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def app():
    a = App()
    yield a
    a.kill()


def request(conn, method, path, body=None):
    conn.request(method, path, body=body)
    resp = conn.getresponse()
    return resp.status, resp.read()


def test_endpoints_over_one_keepalive_connection(app):
    conn = app.conn()
    status, body = request(conn, "GET", "/")
    assert status == 200 and json.loads(body)["version"] == "v9"
    assert json.loads(body)["host"]
    status, body = request(conn, "POST", "/", body=b"x" * 100_000)
    assert status == 200 and json.loads(body)["version"] == "v9"
    assert request(conn, "GET", "/health") == (200, b"ok\n")
    status, body = request(conn, "POST", "/sleep?ms=120", body=b"{}")
    assert status == 200 and json.loads(body)["slept_ms"] == 120
    assert request(conn, "GET", "/nope")[0] == 404
    assert conn.sock is not None  # still the same connection


def test_sleep_takes_its_time(app):
    started = time.monotonic()
    status, _ = request(app.conn(), "GET", "/sleep?ms=300")
    assert status == 200 and 0.3 <= time.monotonic() - started < 2


def test_broken_health():
    a = App(APP_HEALTHY="0")
    try:
        assert request(a.conn(), "GET", "/health")[0] == 500
        assert request(a.conn(), "GET", "/")[0] == 200
    finally:
        a.kill()


def test_idle_sigterm_exits_fast_and_closes_keepalive(app):
    conn = app.conn()
    assert request(conn, "GET", "/")[0] == 200  # an idle keep-alive connection stays open
    started = time.monotonic()
    assert app.term() == 0
    assert time.monotonic() - started < 1.0
    assert any("stopped gracefully" in line for line in app.lines)


def test_sigterm_lets_in_flight_finish_and_refuses_new(app):
    result = {}

    def slow():
        status, body = request(app.conn(), "POST", "/sleep?ms=800", body=b"{}")
        result["slow"] = status

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.2)  # let the request arrive
    app.proc.send_signal(signal.SIGTERM)
    time.sleep(0.2)
    with pytest.raises(ConnectionRefusedError):
        request(app.conn(), "GET", "/")
    assert app.proc.wait(10) == 0
    t.join(5)
    assert result == {"slow": 200}


def test_boot_delay_then_listen_and_sigterm_while_booting():
    from testworld.common import free_port

    port = free_port()
    env = dict(os.environ, PORT=str(port), BIND="127.0.0.1", BOOT_DELAY="0.6")
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, str(APP)], env=env, stdout=subprocess.PIPE,
                            text=True)
    try:
        assert "booting" in proc.stdout.readline()
        with pytest.raises(ConnectionRefusedError):
            request(http.client.HTTPConnection("127.0.0.1", port, timeout=2), "GET", "/")
        assert "listening" in proc.stdout.readline()
        assert time.monotonic() - started >= 0.6
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(5) == 0
    finally:
        proc.kill()
    proc = subprocess.Popen([sys.executable, str(APP)], env=dict(env, BOOT_DELAY="30"),
                            stdout=subprocess.PIPE, text=True)
    try:
        assert "booting" in proc.stdout.readline()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(5) == 0
    finally:
        proc.kill()
