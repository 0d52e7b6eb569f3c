"""open_router waits, bounded, for a just-started proxy that does not answer yet, and for
nothing else."""
from __future__ import annotations

import pytest

from bluegreen_action import proxy
from bluegreen_action.errors import ProxyError, ProxyNotAnswering

from .fakes import FakeClock


def opener(errors: list[Exception]):
    """A stand-in for opening the router: raises `errors` one per call, then succeeds."""
    calls = []

    def open_(*args):
        calls.append(args)
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return "router"
    return open_, calls


def test_a_proxy_that_answers_after_a_while_is_waited_for(monkeypatch):
    clock, said = FakeClock(), []
    open_, calls = opener([ProxyNotAnswering("refused")] * 5)
    monkeypatch.setattr(proxy, "_open_router", open_)
    assert proxy.open_router(None, None, [], clock, log=said.append, wait=30) == "router"
    assert len(calls) == 6 and clock.sleeps == [proxy.POLL] * 5
    assert said == ["waiting up to 30s for the proxy to answer: refused"]


def test_the_wait_is_bounded_and_ends_with_the_proxy_error(monkeypatch):
    clock = FakeClock()
    t0 = clock.now()
    open_, calls = opener([ProxyNotAnswering("refused")] * 1000)
    monkeypatch.setattr(proxy, "_open_router", open_)
    with pytest.raises(ProxyNotAnswering, match="refused"):
        proxy.open_router(None, None, [], clock, wait=3)
    assert 3 <= clock.now() - t0 < 3 + 2 * proxy.POLL


@pytest.mark.parametrize("wait", [0, 30])
def test_other_errors_and_no_wait_raise_at_once(monkeypatch, wait):
    for error in (ProxyError("no stats socket"), ProxyNotAnswering("refused")):
        if isinstance(error, ProxyNotAnswering) and wait:
            continue
        open_, calls = opener([error])
        monkeypatch.setattr(proxy, "_open_router", open_)
        with pytest.raises(type(error)):
            proxy.open_router(None, None, [], FakeClock(), wait=wait)
        assert len(calls) == 1
