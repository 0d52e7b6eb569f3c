"""A proxy that restarts during a wait: its calls fail for a while (no exec, no admin API);
the wait carries on and re-applies the routes once it answers, and gives up with a
ProxyError only after PROXY_GRACE seconds."""
from __future__ import annotations

import docker.errors
import pytest

from bluegreen_action.colors import Color
from bluegreen_action.errors import ProxyError
from bluegreen_action.waits import PROXY_GRACE, wait_until_drained

from .fakes import FakeClock as Clock


class RestartingProxy:
    """Away (every call raises what docker-py raises for an exec into a restarting
    container) from `away_from` until `back_at` seconds after it was made; then it counts
    `in_flight` requests."""
    observes_in_flight = True

    def __init__(self, clock, away_from, back_at, in_flight=0):
        self.clock, self.away_from, self.back_at, self.n = clock, away_from, back_at, in_flight
        self.t0 = clock.t
        self.reapplied = 0

    def _check(self):
        if self.away_from <= self.clock.t - self.t0 < self.back_at:
            raise docker.errors.APIError("Container abc is restarting, wait until the container "
                                         "is running")

    def in_flight(self, color):
        self._check()
        return self.n

    def reapply_if_lost(self):
        self._check()
        self.reapplied += 1
        return False


def test_a_drain_waits_for_a_restarting_proxy_and_carries_on():
    clock = Clock()
    proxy = RestartingProxy(clock, away_from=0.0, back_at=3.0)
    logs = []
    waited = wait_until_drained(proxy, Color.BLUE, 30, clock, log=logs.append)
    assert 3.0 <= waited < 4.0
    assert "does not answer (restarting?)" in logs[0] and "answers again after" in logs[-1]


def test_a_proxy_away_longer_than_the_grace_fails_the_wait():
    clock = Clock()
    proxy = RestartingProxy(clock, away_from=0.0, back_at=1e9)
    with pytest.raises(ProxyError) as e:
        wait_until_drained(proxy, Color.BLUE, 1e6, clock)
    assert f"has not answered for {PROXY_GRACE:g}s" in e.value.message
    assert "restarting" in e.value.evidence
    assert PROXY_GRACE <= clock.t - 1000 < PROXY_GRACE + 1


def test_the_routes_are_checked_again_every_second_while_it_waits():
    clock = Clock()
    proxy = RestartingProxy(clock, away_from=1e9, back_at=1e9, in_flight=1)
    wait_until_drained(proxy, Color.GREEN, 5, clock)
    assert 4 <= proxy.reapplied <= 5
