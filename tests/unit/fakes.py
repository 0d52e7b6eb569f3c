"""Strict fakes for unit tests: they implement just enough of the real protocol and fail
loudly on anything else."""
from __future__ import annotations

import copy
import hashlib
import json

import httpx


class FakeClock:
    def __init__(self):
        self.t = 1000.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += max(seconds, 0)


class FakeCaddyAdmin:
    """Caddy's admin API as far as the router uses it: GET /config/, POST of
    apps/http/servers guarded by If-Match, GET /reverse_proxy/upstreams."""

    def __init__(self, config: dict, in_flight: dict[str, int] | None = None):
        self.config = copy.deepcopy(config)
        self.boot_config = copy.deepcopy(config)
        self.in_flight = in_flight or {}
        self.writes = 0
        self.refuse_next: int | None = None
        self.requests: list[str] = []

    def etag(self, path: str) -> str:
        h = hashlib.sha256(json.dumps(self.config, sort_keys=True).encode()).hexdigest()[:16]
        return f'"{path} {h}"'

    def restart(self) -> None:
        """Caddy restarted: the runtime changes are gone, the Caddyfile's routes are back."""
        self.config = copy.deepcopy(self.boot_config)

    def handler(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.requests.append(f"{request.method} {path}")
        if request.method == "GET" and path == "/config/":
            return httpx.Response(200, json=self.config, headers={"Etag": self.etag(path)})
        if request.method == "POST" and path == "/config/apps/http/servers":
            if self.refuse_next:
                code, self.refuse_next = self.refuse_next, None
                return httpx.Response(code, json={"error": "refused by the test"})
            if request.headers.get("If-Match") != self.etag("/config/"):
                return httpx.Response(412, json={"error": "If-Match header did not match"})
            self.config["apps"]["http"]["servers"] = json.loads(request.content)
            self.writes += 1
            return httpx.Response(200)
        if request.method == "GET" and path == "/reverse_proxy/upstreams":
            return httpx.Response(200, json=[{"address": a, "num_requests": n, "fails": 0}
                                             for a, n in self.in_flight.items()])
        raise AssertionError(f"unexpected admin request {request.method} {path}")

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self.handler),
                            base_url="http://localhost:2019")
