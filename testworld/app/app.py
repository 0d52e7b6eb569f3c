"""The sample web app of the test world (stdlib only, HTTP/1.1 keep-alive, port 8000).

Environment:
  APP_VERSION  version reported in every JSON answer (baked into each image)
  BOOT_DELAY   seconds to wait before even listening, like a real app booting (default 0)
  APP_HEALTHY  "0" makes /health answer 500 forever (the `broken` image)
  PORT, BIND   listening port (default 8000; 0 picks a free one, printed at boot), address

Endpoints: GET|POST /  -> 200 {"version", "host"};  GET /health -> 200 "ok" (500 if unhealthy);
GET|POST /sleep?ms=N -> sleeps N ms, then 200 {"version", "host", "slept_ms"}.

SIGTERM: close the listener, close idle keep-alive connections, let in-flight requests finish
(at most GRACE seconds), then exit 0.
"""

import json
import os
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

VERSION = os.environ.get("APP_VERSION", "dev")
HEALTHY = os.environ.get("APP_HEALTHY", "1") != "0"
HOST = socket.gethostname()
GRACE = 30.0  # seconds in-flight requests get after SIGTERM


def say(msg):
    print(f"sample-app {VERSION}: {msg}", flush=True)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    disable_nagle_algorithm = True  # headers and body go out at once (no 40 ms delayed ACK)
    server_version = "sample-app"

    def handle_one_request(self):
        # Same as the base class, but tells the server when this connection is busy or idle.
        try:
            self.raw_requestline = self.rfile.readline(65537)
        except OSError:
            self.close_connection = True
            return
        if not self.raw_requestline:
            self.close_connection = True
            return
        self.server.conn_busy(self)
        try:
            if len(self.raw_requestline) > 65536:
                self.send_error(414)
                return
            if not self.parse_request():
                return
            method = getattr(self, "do_" + self.command, None)
            if method is None:
                self.send_error(501)
                return
            method()
            self.wfile.flush()
        except OSError:
            self.close_connection = True
        finally:
            if self.server.conn_idle(self):
                self.close_connection = True

    def setup(self):
        super().setup()
        self.server.conn_open(self)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.conn_closed(self)

    def do_GET(self):
        self.route()

    def do_HEAD(self):  # as web frameworks do for GET routes (curl -I probes use it)
        self.route()

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)  # read the whole body
        self.route()

    def route(self):
        url = urlsplit(self.path)
        if url.path == "/":
            self.reply(200, {"version": VERSION, "host": HOST})
        elif url.path == "/health" and self.command in ("GET", "HEAD"):
            if HEALTHY:
                self.reply(200, "ok")
            else:
                self.reply(500, "unhealthy")
        elif url.path == "/sleep":
            try:
                ms = min(max(int(parse_qs(url.query).get("ms", ["0"])[0]), 0), 120_000)
            except ValueError:
                self.reply(400, "ms must be an integer")
                return
            time.sleep(ms / 1000)
            self.reply(200, {"version": VERSION, "host": HOST, "slept_ms": ms})
        else:
            self.reply(404, "not found")

    def reply(self, status, body):
        if isinstance(body, dict):
            data, ctype = json.dumps(body).encode(), "application/json"
        else:
            data, ctype = (body + "\n").encode(), "text/plain; charset=utf-8"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        if self.server.closing:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def log_message(self, format, *args):  # quiet: hundreds of requests per second
        pass


class AppServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, addr):
        super().__init__(addr, Handler)
        self.lock = threading.Condition()
        self.closing = False
        self.idle = set()  # handlers waiting for their connection's next request
        self.busy = set()  # handlers serving a request

    def conn_open(self, handler):
        """A new connection starts idle (nothing read yet); refused if we are closing."""
        with self.lock:
            if self.closing:
                handler.connection.shutdown(socket.SHUT_RDWR)
            else:
                self.idle.add(handler)

    def conn_closed(self, handler):
        with self.lock:
            self.idle.discard(handler)
            self.busy.discard(handler)
            self.lock.notify_all()

    def conn_busy(self, handler):
        with self.lock:
            self.idle.discard(handler)
            self.busy.add(handler)

    def conn_idle(self, handler):
        """Mark handler idle after a request; True if the connection should close instead."""
        with self.lock:
            self.busy.discard(handler)
            if self.closing:
                self.lock.notify_all()
                return True
            self.idle.add(handler)
            return False

    def drain(self, grace):
        """Close idle connections now and wait (at most grace s) for busy ones to finish."""
        with self.lock:
            self.closing = True
            for handler in self.idle:
                try:
                    handler.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.idle.clear()
            deadline = time.monotonic() + grace
            while self.busy and time.monotonic() < deadline:
                self.lock.wait(deadline - time.monotonic())
            return len(self.busy)


STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


def wait_for_stop(timeout=None):
    """True once SIGTERM/SIGINT arrived (within timeout). sigtimedwait on blocked signals has
    no race, unlike a Python handler setting an Event (it can run a whole wait too late)."""
    if timeout is None:
        signal.sigwait(STOP_SIGNALS)
        return True
    return signal.sigtimedwait(STOP_SIGNALS, timeout) is not None


def main():
    # block the stop signals before any thread starts (threads inherit the mask)
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    boot_delay = float(os.environ.get("BOOT_DELAY") or 0)
    if boot_delay > 0:
        say(f"booting ({boot_delay:g}s)")
        if wait_for_stop(boot_delay):
            say("stopped while booting")
            return 0
    server = AppServer((os.environ.get("BIND", "0.0.0.0"), int(os.environ.get("PORT", "8000"))))
    loop = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    loop.start()
    say(f"listening on port {server.server_address[1]} (healthy={HEALTHY})")
    wait_for_stop()
    started = time.monotonic()
    server.shutdown()  # stop the accept loop
    server.socket.close()  # stop accepting: new connections are refused
    left = server.drain(GRACE)
    say(f"stopped gracefully in {time.monotonic() - started:.2f}s"
        + (f", {left} request(s) cut off" if left else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
