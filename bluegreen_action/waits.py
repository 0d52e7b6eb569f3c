"""Waiting on observed facts, never on fixed delays: a colour drained of requests, a
container healthy as Docker and the proxy see it. Every wait is bounded."""
from __future__ import annotations

import docker.errors
import httpx

from .clock import Clock
from .colors import Color
from .errors import HealthError, ProxyError
from .remote_docker import RemoteDocker
from .router import Router

POLL = 0.2
ROUTE_CHECK_EVERY = 1.0
PROXY_GRACE = 30.0      # seconds a proxy may be away (restarting) before a wait gives up
# what a proxy container that is restarting answers: no exec, no admin API, a dead shell
PROXY_AWAY = (ProxyError, OSError, ValueError, httpx.HTTPError, docker.errors.DockerException)
SECOND_READ = 0.05
DRAIN_FALLBACK = 2.0    # proxies that cannot count in-flight requests to a removed upstream


class ProxyWatch:
    """Once a second during a wait: re-apply the deploy's routes if the proxy lost them (it
    restarted and came back with its own config file). A proxy that does not answer at all
    (restarting: no exec, no admin API) is waited for, up to PROXY_GRACE seconds."""

    def __init__(self, router: Router | None, clock: Clock, log=lambda msg: None):
        self.router, self.clock, self.log = router, clock, log
        self.last = clock.now()
        self.away_since: float | None = None

    def call(self, fn, *args, default=None):
        """fn(*args), or `default` while the proxy is away."""
        try:
            result = fn(*args)
        except PROXY_AWAY as e:
            self._away(e)
            return default
        if self.away_since is not None:
            self.log(f"the proxy answers again after {self.clock.now() - self.away_since:.1f}s")
            self.away_since = None
        return result

    def tick(self) -> None:
        if self.router is not None and self.clock.now() - self.last >= ROUTE_CHECK_EVERY:
            self.call(self.router.reapply_if_lost)
            self.last = self.clock.now()

    def _away(self, e: Exception) -> None:
        now = self.clock.now()
        if self.away_since is None:
            self.away_since = now
            self.log(f"the proxy does not answer (restarting?): {type(e).__name__}: "
                     f"{str(e)[:200]}; waiting up to {PROXY_GRACE:g}s for it")
        elif now - self.away_since >= PROXY_GRACE:
            raise ProxyError(f"the proxy has not answered for {PROXY_GRACE:g}s",
                             evidence=f"{type(e).__name__}: {e}",
                             hint="check the proxy container (`docker logs` on the server); "
                                  "traffic stays on the colours it routed") from None


def wait_until_drained(router: Router, color: Color, timeout: float, clock: Clock,
                       warn=lambda msg: None, log=lambda msg: None) -> float:
    """Until the proxy has no request open to the colour; returns the seconds waited."""
    start = clock.now()
    if not router.observes_in_flight:
        clock.sleep(min(timeout, DRAIN_FALLBACK))
        return clock.now() - start
    watch = ProxyWatch(router, clock, log)
    zeros = 0
    # Two empty reads in a row, a moment apart: a request routed an instant before the
    # switch may not be counted yet at the first.
    while zeros < 2:
        n = watch.call(router.in_flight, color, default=-1)     # -1: the proxy is away
        zeros = zeros + 1 if n == 0 else 0
        if zeros == 2:
            break
        if clock.now() - start >= timeout:
            warn((f"{n} request(s) still in flight to {color}" if n > 0 else
                  f"the proxy did not say whether requests are in flight to {color}")
                 + f" after the drain timeout ({timeout:g}s); stopping it anyway (the app's "
                 "graceful shutdown may finish them)")
            break
        watch.tick()
        clock.sleep(SECOND_READ if zeros else POLL / 2)
    return clock.now() - start


def wait_until_healthy(docker: RemoteDocker, router: Router | None, containers: dict[str, str],
                       apps: dict[str, str], color: Color, path: str, timeout: float,
                       clock: Clock, log=lambda msg: None) -> float:
    """Until every container (service -> name) runs, passes its Docker healthcheck if it
    has one, and answers a real request from the proxy's side. `apps` maps service -> app."""
    start = clock.now()
    pending = dict(containers)
    last: dict[str, str] = {}
    watch = ProxyWatch(router, clock, log)
    while pending:
        for service, name in list(pending.items()):
            st = docker.state(name)
            if st is None or st.status in ("exited", "dead", "restarting"):
                status = st.status if st else "gone"
                raise health_failure(docker, service, name,
                                     f"{service} stopped while starting (status {status})")
            if st.health == "unhealthy":
                raise health_failure(docker, service, name, f"{service} is unhealthy")
            if st.health not in (None, "healthy") or st.status != "running":
                last[service] = f"Docker health: {st.health or st.status}"
                continue
            if router is None:
                del pending[service]
                continue
            ok, detail = watch.call(router.probe, apps[service], color, path,
                                    default=(False, "the proxy does not answer"))
            last[service] = detail
            if ok:
                del pending[service]
        if not pending:
            break
        if clock.now() - start >= timeout:
            service, name = next(iter(pending.items()))
            latest = docker.health_log(name, last=1).strip()
            detail = last.get(service, "no answer") + (f"; latest check: {latest[:200]}" if latest else "")
            raise health_failure(docker, service, name,
                                 f"{service} did not become healthy within {timeout:g}s ({detail})")
        watch.tick()
        clock.sleep(POLL)
    return clock.now() - start


def health_failure(docker: RemoteDocker, service: str, name: str, message: str) -> HealthError:
    health = docker.health_log(name)
    logs = docker.logs(name, tail=30)
    evidence = ""
    if health:
        evidence += f"--- health checks of {name} (latest last) ---\n{health}\n"
    evidence += f"--- last log lines of {name} ---\n{logs.rstrip() or '(no output)'}"
    return HealthError(message, evidence=evidence,
                       hint="fix the new version (see its health checks and last log lines), or give "
                            "it longer with health-timeout if it only boots slowly")
