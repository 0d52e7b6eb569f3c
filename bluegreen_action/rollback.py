"""`bluegreen rollback`: with the blue-green strategy the previous version still runs in the
idle colour, so a rollback is one switch of the proxy back to it. No container is started,
stopped or pulled: the idle colour is checked (Docker health and one request through the
proxy), then traffic moves in one proxy change, and the run reports which tag serves now.

Rolling back again switches forward again: the other colour keeps the newer version idle.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .clock import Clock
from .colors import Color, service_name
from .engine import DeployResult
from .errors import BluegreenError, DeployError
from .history import HistoryEntry, HistoryStore, Origin, make_entry
from .image_ref import ImageRef
from .lock import DeployLock
from .lock import me as lock_holder
from .proxy import open_router
from .remote_docker import ContainerState, RemoteDocker
from .report import Reporter
from .ssh import SshSession, SshTarget
from .stack import StackInfo, read_stack
from .strategies import live_colour
from .waits import wait_until_healthy


@dataclass(frozen=True)
class HostCommandOptions:
    """What rollback, status and history need: where, which stack, and how to behave."""
    target: SshTarget
    compose_file: Path
    apps: tuple[str, ...]
    project_name: str | None = None
    repo_name: str | None = None
    proxy_service: str | None = None
    proxy_kind: str | None = None
    health_path: str = "/"
    health_timeout: float = 10.0         # the idle colour must already be healthy
    lock_timeout: float = 60.0
    break_lock: bool = False
    env: Mapping[str, str] = field(default_factory=dict)
    origin: Origin = Origin("unknown")


@dataclass
class RollbackResult(DeployResult):
    switch_seconds: float | None = None      # the proxy change alone
    colour: str = ""                          # the colour that serves now
    history: list[HistoryEntry] = field(default_factory=list)


def tag_of(state: ContainerState | None) -> str:
    if state is None:
        return "(none)"
    return ImageRef.parse(state.image).tag or state.image


class Rollback:
    def __init__(self, opts: HostCommandOptions, reporter: Reporter, clock: Clock | None = None):
        self.o = opts
        self.r = reporter
        self.clock = clock or Clock()
        self.result = RollbackResult("failed", host=opts.target.display)

    def run(self) -> RollbackResult:
        start = self.clock.now()
        try:
            self._run()
        except BluegreenError as e:
            self.result.error = e
            self.r.error(e)
        finally:
            self.result.seconds = self.clock.now() - start
        return self.result

    def _run(self) -> None:
        o, r = self.o, self.r
        with r.phase("Check the inputs and the compose file"):
            stack = read_stack(o.compose_file, o.apps, o.project_name, o.repo_name, o.proxy_service)
            self.result.project = stack.project
        with SshSession(o.target, env=o.env) as ssh:
            with r.phase(f"Connect to {o.target.display}"):
                ssh.open()
                docker = RemoteDocker(ssh, stack.project, stack.compose.path.resolve().parent,
                                      dict(o.env), log=r.detail)
                r.info(f"Docker Engine {docker.check_access()} on {o.target.host}")
            lock = DeployLock(docker.client, ssh, stack.project, self.clock, log=r.info,
                              warn=r.warning)
            router = None
            switched = False
            start = self.clock.now()
            try:
                with r.phase("Take the deploy lock"):
                    lock.acquire(lock_holder(o.env, "rollback", o.target.user, os.getpid()),
                                 o.lock_timeout, break_first=o.break_lock)
                with r.phase("Read the host's state"):
                    containers = docker.project_containers()
                    router = self._router(docker, stack, containers)
                    live, idle = self._colours(stack, containers, router.routed())
                with r.phase(f"Check that {idle} is healthy"):
                    names = {s: containers[s].name for s in stack.services_of(idle)}
                    waited = wait_until_healthy(
                        docker, router, names, {service_name(a, idle): a for a in stack.apps},
                        idle, o.health_path, o.health_timeout, self.clock)
                    r.info(f"{', '.join(names)} healthy ({waited:.1f}s)")
                with r.phase(f"Switch traffic to {idle}"):
                    switched = True
                    t0 = self.clock.now()
                    router.route_to({idle})
                    self.result.switch_seconds = self.clock.now() - t0
                    r.info(f"traffic → {idle} ({self.result.tag}; was {live} on "
                           f"{self.result.previous_tag}) in {self.result.switch_seconds:.2f}s; "
                           "no container was started")
                self.result.result = "success"
            finally:
                try:
                    self._final_state(docker, stack, router)
                except Exception:   # noqa: BLE001 - best effort
                    pass
                if switched:
                    self._record(docker, stack, self.clock.now() - start)
                try:
                    lock.release()
                except Exception as e:   # noqa: BLE001
                    r.warning(f"could not give the deploy lock back: {type(e).__name__}: {e}")
                if router is not None:
                    router.close()
                docker.close()

    def _router(self, docker: RemoteDocker, stack: StackInfo, containers):
        proxy = containers.get(stack.proxy_service)
        if proxy is None or not proxy.running:
            raise DeployError(f"the proxy service `{stack.proxy_service}` is not running on "
                              f"{self.o.target.host}", hint="start it, or check proxy-service")
        router = open_router(docker, proxy, list(stack.topology), self.clock, self.o.proxy_kind,
                             log=self.r.info)
        self.r.info(router.describe())
        return router

    def _colours(self, stack: StackInfo, containers: dict[str, ContainerState],
                 routed: dict[str, set[Color]]) -> tuple[Color, Color]:
        live = live_colour(list(stack.apps), routed)
        shown = "; ".join(f"{a}: {' + '.join(sorted(map(str, c))) or 'nothing'}"
                          for a, c in routed.items())
        if live is None:
            raise DeployError(
                f"traffic goes to {shown}, not to one colour: no previous version waits idle",
                hint="an instant rollback needs a host deployed with strategy blue-green; here, "
                     "deploy the previous tag (`bluegreen history` shows it)")
        idle = live.other
        for app in stack.apps:
            now, before = containers.get(service_name(app, live)), containers.get(service_name(app, idle))
            if before is None or not before.running:
                raise DeployError(
                    f"{service_name(app, idle)} is not running, so there is nothing to switch back to",
                    hint="deploy the previous tag instead (`bluegreen history` shows it)")
            self.result.images[app] = (now.image if now else None, before.image)
        first = stack.apps[0]
        self.result.previous_tag = tag_of(containers.get(service_name(first, live)))
        self.result.tag = tag_of(containers.get(service_name(first, idle)))
        self.result.colour = idle.value
        if all(old == new for old, new in self.result.images.values()):
            raise DeployError(f"{idle} runs the same version as {live} ({self.result.tag}): "
                              "there is no previous version to switch back to",
                              hint="deploy the tag you want (`bluegreen history` lists the "
                                   "earlier ones)")
        self.r.info(f"{live} serves {self.result.previous_tag}; {idle} waits idle with "
                    f"{self.result.tag}")
        return live, idle

    def _final_state(self, docker: RemoteDocker, stack: StackInfo, router) -> None:
        containers = docker.project_containers()
        self.result.final = {s: containers[s] for s in stack.colour_services if s in containers}
        if router is not None:
            self.result.routed = {a: sorted(map(str, c)) for a, c in router.routed().items()}

    def _record(self, docker: RemoteDocker, stack: StackInfo, seconds: float) -> None:
        res = self.result
        entry = make_entry(
            action="rollback", project=stack.project, host=self.o.target.display,
            result="success" if res.error is None and res.result == "success" else "failed",
            new_tag=res.tag, old_tag=res.previous_tag, origin=self.o.origin,
            seconds=seconds, images={k: v[1] for k, v in res.images.items()})
        try:
            res.history = HistoryStore(docker.client, stack.project).append(entry)
        except Exception as e:   # noqa: BLE001 - the rollback itself stands
            self.r.warning(f"could not write the deploy history: {type(e).__name__}: {e}")
