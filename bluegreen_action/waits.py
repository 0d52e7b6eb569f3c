"""Waiting on observed facts, never on fixed delays: a colour drained of requests, a
container healthy as Docker and the proxy see it. Every wait is bounded."""
from __future__ import annotations

from .clock import Clock
from .colors import Color
from .errors import HealthError
from .remote_docker import RemoteDocker
from .router import Router

POLL = 0.2
ROUTE_CHECK_EVERY = 1.0
SECOND_READ = 0.05
DRAIN_FALLBACK = 2.0    # proxies that cannot count in-flight requests to a removed upstream


def wait_until_drained(router: Router, color: Color, timeout: float, clock: Clock,
                       warn=lambda msg: None) -> float:
    """Until the proxy has no request open to the colour; returns the seconds waited."""
    start = clock.now()
    if not router.observes_in_flight:
        clock.sleep(min(timeout, DRAIN_FALLBACK))
        return clock.now() - start
    last_check = start
    zeros = 0
    # Two empty reads in a row, a moment apart: a request routed an instant before the
    # switch may not be counted yet at the first.
    while zeros < 2:
        n = router.in_flight(color)
        zeros = zeros + 1 if n == 0 else 0
        if zeros == 2:
            break
        if clock.now() - start >= timeout:
            warn(f"{n} request(s) still in flight to {color} after the drain timeout "
                 f"({timeout:g}s); stopping it anyway (the app's graceful shutdown may finish them)")
            break
        if clock.now() - last_check >= ROUTE_CHECK_EVERY:
            router.reapply_if_lost()
            last_check = clock.now()
        clock.sleep(SECOND_READ if zeros else POLL / 2)
    return clock.now() - start


def wait_until_healthy(docker: RemoteDocker, router: Router | None, containers: dict[str, str],
                       apps: dict[str, str], color: Color, path: str, timeout: float,
                       clock: Clock) -> float:
    """Until every container (service -> name) runs, passes its Docker healthcheck if it
    has one, and answers a real request from the proxy's side. `apps` maps service -> app."""
    start = clock.now()
    pending = dict(containers)
    last: dict[str, str] = {}
    last_check = start
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
            ok, detail = router.probe(apps[service], color, path)
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
        if router is not None and clock.now() - last_check >= ROUTE_CHECK_EVERY:
            router.reapply_if_lost()
            last_check = clock.now()
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
