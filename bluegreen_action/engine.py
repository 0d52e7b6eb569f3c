"""The deploy: check everything locally, connect, read the host, plan, then swap colour by
colour; on any failure, put the touched colours back on the old images while traffic stays
on a healthy colour."""
from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .clock import Clock
from .colors import Color, service_name
from .compose_file import ComposeFile
from .errors import BluegreenError, ComposeFileError, DeployError, InputError
from .image_ref import ImageRef, valid_tag
from .lock import DeployLock
from .lock import me as lock_holder
from .plan import HostFacts, Plan, Step, with_pre_deploy
from .proxy import open_router
from .remote_docker import SEE_OUTPUT, ComposeFailed, ContainerState, RemoteDocker
from .report import Reporter
from .router import Router
from .ssh import SshSession, SshTarget
from .stack import read_stack
from .strategies import ROLLING, changed_images, plan_for, recovery_plan, served_before
from .waits import PROXY_GRACE, wait_until_drained, wait_until_healthy


@dataclass(frozen=True)
class DeployOptions:
    target: SshTarget
    compose_file: Path
    apps: tuple[str, ...]
    tag: str
    project_name: str | None = None
    repo_name: str | None = None         # the repository's name, for the project name
    proxy_service: str | None = None
    proxy_kind: str | None = None        # caddy | haproxy | None: detected
    health_timeout: float = 120.0
    drain_timeout: float = 30.0
    health_path: str = "/"
    strategy: str = ROLLING              # rolling | blue-green (strategies.py)
    dry_run: bool = False
    lock_timeout: float = 300.0          # seconds to wait for another deploy's lock (lock.py)
    break_lock: bool = False             # remove the host's lock for the project first
    pre_deploy: tuple[str, ...] = ()     # argv run in a one-off container before traffic moves
    pre_deploy_timeout: float = 600.0
    env: Mapping[str, str] = field(default_factory=dict)   # for docker/compose child processes


@dataclass
class DeployResult:
    result: str                              # success | failed | rolled-back | dry-run
    host: str
    project: str = ""
    tag: str = ""
    previous_tag: str | None = None
    images: dict[str, tuple[str | None, str]] = field(default_factory=dict)  # service -> (old, new)
    final: dict[str, ContainerState] = field(default_factory=dict)
    routed: dict[str, list[str]] = field(default_factory=dict)
    plan: str = ""
    error: BluegreenError | None = None
    seconds: float = 0.0


class Deployment:
    def __init__(self, opts: DeployOptions, reporter: Reporter, clock: Clock | None = None,
                 after=()):
        """`after`: callables (deployment, docker, error or None) run on the open connection
        once the deploy ended, whatever its outcome (history, image retention: fleet.py)."""
        self.o = opts
        self.r = reporter
        self.after = tuple(after)
        self.clock = clock or Clock()
        self.result = DeployResult("failed", host=opts.target.display, tag=opts.tag)
        self.router: Router | None = None

    # -- the whole run --------------------------------------------------------------------
    def run(self) -> DeployResult:
        start = self.clock.now()
        try:
            self._run()
        except BluegreenError as e:
            self.result.error = e
            if isinstance(e, DeployError) and e.rolled_back:
                self.result.result = "rolled-back"
            self.r.error(e)
        finally:
            self.result.seconds = self.clock.now() - start
        return self.result

    def _run(self) -> None:
        with self.r.phase("Check the inputs and the compose file"):
            compose, new = self._prepare()
        with SshSession(self.o.target, env=self.o.env) as ssh:
            with self.r.phase(f"Connect to {self.o.target.display}"):
                ssh.open()
                docker = RemoteDocker(ssh, self.result.project, compose.path.resolve().parent,
                                      dict(self.o.env), log=self.r.detail)
                self.r.info(f"Docker Engine {docker.check_access()} on {self.o.target.host}")
            lock = DeployLock(docker.client, ssh, self.result.project, self.clock,
                              log=self.r.info, warn=self.r.warning)
            error = None
            cancelled = False
            try:
                self._take_lock(lock)
                self._deploy(ssh, docker, compose, new)
            except BluegreenError as e:
                error = e
                raise
            except BaseException:     # cancelled: the front doors turn SIGTERM/SIGINT into this
                cancelled = True
                self._leave_traffic_safe(docker)
                raise
            finally:
                if not self.result.final:   # after a failure too: what runs, what is routed
                    try:
                        self._final_state(docker, self.router)
                    except Exception:   # noqa: BLE001 - best effort; the failure is reported
                        pass
                for hook in () if cancelled else self.after:   # a cancel must end in seconds
                    try:
                        hook(self, docker, error)
                    except Exception as e:   # noqa: BLE001 - the deploy's outcome stands
                        self.r.warning(f"after the deploy: {type(e).__name__}: {e}")
                try:
                    lock.release()
                except Exception as e:   # noqa: BLE001 - the next deploy sees it is stale
                    self.r.warning(f"could not give the deploy lock back: {type(e).__name__}: {e}")
                if self.router is not None:
                    self.router.close()
                docker.close()

    def _take_lock(self, lock: DeployLock) -> None:
        if self.o.dry_run:
            holder = lock.holder()
            state = f" ({lock.liveness(holder)[1]})" if holder else ""
            self.r.info(f"deploy lock of {lock.project}: "
                        + (f"held by {holder.describe()}{state}" if holder else "free"))
            return
        with self.r.phase("Take the deploy lock"):
            me = lock_holder(self.o.env, self.o.tag, self.o.target.user, os.getpid())
            lock.acquire(me, self.o.lock_timeout, break_first=self.o.break_lock)
            self.r.info(f"{lock.name} taken by {me.who}")

    def _leave_traffic_safe(self, docker: RemoteDocker) -> None:
        """After a cancel: traffic only on colours whose containers run healthy (the routes
        re-applied if the proxy restarted); the half-done colour is left for the next deploy,
        which replaces the idle colour first. Quick: the runner kills us seconds later."""
        router = self.router
        if router is None:
            return
        try:
            router.close()     # a fresh proxy shell: the cancelled call may have left it mid-answer
            router.reapply_if_lost()
            containers = docker.project_containers()
            safe = {c for c in Color if all(
                (st := containers.get(service_name(a, c))) and st.running
                and st.health in (None, "healthy") for a in self.o.apps)}
            routed = set().union(*router.routed().values())
            if routed - safe and safe:
                router.route_to(safe)
                routed = safe
            self.r.warning("cancelled: traffic goes to "
                           + " + ".join(c.value for c in Color if c in routed)
                           + "; deploy again to finish (the idle colour is replaced first)")
        except Exception as e:   # noqa: BLE001 - best effort while being stopped
            self.r.warning(f"cancelled; could not check the routes: {type(e).__name__}: {e}")

    # -- local checks: nothing on the server is touched before these pass -----------------
    def _prepare(self) -> tuple[ComposeFile, dict[str, str]]:
        o = self.o
        if not valid_tag(o.tag):
            raise InputError(f"tag {o.tag!r} is not a valid image tag",
                             hint="use letters, digits, '_', '.' and '-' (at most 128, not "
                                  "starting with '.' or '-'), e.g. v1.2.3 or the commit SHA")
        stack = read_stack(o.compose_file, o.apps, o.project_name, o.repo_name, o.proxy_service)
        compose = stack.compose
        self.colour_services = stack.colour_services
        new = compose.retag(self.colour_services, o.tag).new_images
        self.result.project = stack.project
        self.proxy_service = stack.proxy_service
        self.topology = list(stack.topology)
        for svc in self.colour_services:
            self._warn_slow_healthcheck(compose, svc)
        for svc in compose.services:
            self._warn_relative_binds(compose, svc)
        self.r.info(f"project {self.result.project}, services "
                    f"{', '.join(self.colour_services)}, proxy {self.proxy_service}")
        return compose, new

    def _warn_slow_healthcheck(self, compose: ComposeFile, svc: str) -> None:
        hc = compose.services[svc].get("healthcheck") or {}
        if hc and not hc.get("disable") and "start_interval" not in hc:
            self.r.warning(
                f"{svc}'s healthcheck has no start_interval: Docker runs the first check only "
                f"after `interval` ({hc.get('interval', '30s')}), which every deploy waits for; "
                "add `start_interval: 1s` (Docker Engine >= 25)",
                file=str(compose.path), line=compose.line_of_service(svc))

    def _warn_relative_binds(self, compose: ComposeFile, svc: str) -> None:
        for source in compose.relative_bind_mounts(svc):
            on_server = (compose.path.resolve().parent / Path(source).expanduser()).resolve()
            self.r.warning(
                f"{svc} bind-mounts `{source}`, a path on the server: its Docker Engine mounts "
                f"{on_server} from its own disk, not this checkout (and creates an empty folder "
                "there if it is missing); copy the file into the image (as the article's "
                "Caddy image does), or use a named volume or an absolute path that exists on "
                "the server", file=str(compose.path), line=compose.line_of_service(svc))

    # -- on the server --------------------------------------------------------------------
    def _deploy(self, ssh: SshSession, docker: RemoteDocker, compose: ComposeFile,
                new: dict[str, str]) -> None:
        with self.r.phase("Read the host's state"):
            if self.o.dry_run:   # otherwise the pull, which changes nothing, validates it
                docker.validate(compose.set_images(new).text)
            containers = docker.project_containers()
            self._check_name_clashes(docker, compose)
            old = {s: containers[s].image if s in containers else None for s in self.colour_services}
            self.result.images = {s: (old[s], new[s]) for s in self.colour_services}
            first_old = old[self.colour_services[0]]
            self.result.previous_tag = ImageRef.parse(first_old).tag if first_old else None
            router = None
            if self.proxy_service in containers and containers[self.proxy_service].running:
                router = open_router(docker, containers[self.proxy_service], self.topology,
                                     self.clock, self.o.proxy_kind, log=self.r.info)
                self.r.info(router.describe())
            facts = HostFacts(running={s: c.running for s, c in containers.items()},
                              missing=tuple(s for s in compose.services
                                            if s not in containers and s not in self.colour_services),
                              routed=router.routed() if router else {})
            plan = plan_for(self.o.strategy, list(self.o.apps), facts, new)
            if self.o.pre_deploy:
                plan = with_pre_deploy(plan, self.colour_services[0], self.o.pre_deploy,
                                       needs=tuple(s for s in facts.missing
                                                   if s != self.proxy_service))
            self.result.images = changed_images(plan, list(self.o.apps), self.result.images)
            if (before := served_before(plan, list(self.o.apps))) and old.get(before):
                self.result.previous_tag = ImageRef.parse(old[before]).tag
            if not plan.first_deploy and router is None:
                raise DeployError(
                    f"the proxy service `{self.proxy_service}` is not running on the host",
                    hint="start it (`docker compose up -d " + self.proxy_service + "`) or check "
                         "proxy-service")
            for app, colors in facts.routed.items():
                self.r.info(f"{app}: traffic goes to {' + '.join(sorted(map(str, colors))) or 'nothing'}")
            self.result.plan = plan.describe()
            self.r.info("plan:\n" + self.result.plan)
        self.router = router
        if self.o.dry_run:
            self.result.result = "dry-run"
            self.r.info("dry run: nothing was changed")
            return
        self._execute(plan, docker, compose, new, old)
        self.result.result = "success"
        self._final_state(docker, self.router)

    def _check_name_clashes(self, docker: RemoteDocker, compose: ComposeFile) -> None:
        names = [n for s in compose.services if (n := compose.container_name(s))]
        clash = docker.foreign_containers(names)
        if clash:
            owners = ", ".join(f"{n} (project {p})" for n, p in clash.items())
            raise ComposeFileError(
                f"containers named in {compose.path} belong to another compose project: {owners}",
                hint=f"set project-name to {next(iter(clash.values()))} to take them over")

    def _execute(self, plan: Plan, docker, compose, new, old) -> None:
        touched: list[Color] = []
        router = self.router
        try:
            self._run_steps(plan, docker, compose, new, touched)
        except BluegreenError as failure:
            if plan.first_deploy or not touched or router is None:
                raise
            self.r.warning(f"deploy failed: {failure.message}; rolling back to the previous images")
            try:
                routed = set().union(*router.routed().values())
                back = recovery_plan(plan, list(self.o.apps), touched, routed,
                                     {s: old[s] for s in self.colour_services if old[s]})
                self._run_steps(back, docker, compose, old, [], phase_prefix="Roll back: ")
            except BluegreenError as e2:
                raise DeployError(
                    f"{failure.message}; the rollback failed too: {e2.message}",
                    evidence=e2.evidence, hint="traffic stays on the colour that was healthy; "
                    "run `bluegreen status` and deploy a known-good tag") from None
            raise DeployError(f"{failure.message}; rolled back to the previous version",
                              evidence=failure.evidence, hint=failure.hint,
                              rolled_back=True) from None

    def _run_steps(self, plan: Plan, docker, compose, images, touched,
                   phase_prefix: str = "") -> None:
        for name, steps in _phases(plan):
            with self.r.phase(phase_prefix + name):
                for step in steps:
                    self._step(step, docker, compose, images, touched)

    def _step(self, step: Step, docker: RemoteDocker, compose: ComposeFile,
              images: dict[str, str], touched: list[Color]) -> None:
        o, router = self.o, self.router
        if step.action == "pull":
            docker.compose(compose.set_images(images).text, "pull", "--quiet", *step.services)
        elif step.action == "up-missing":
            docker.compose(compose.set_images(images).text, "up", "-d", "--no-recreate",
                           "--quiet-pull", *step.services)
            self.r.info(f"created {', '.join(step.services)}")
        elif step.action == "up-all":
            docker.compose(compose.set_images(images).text, "up", "-d", "--quiet-pull")
            proxy = docker.project_containers().get(self.proxy_service)
            if proxy and proxy.running:   # so health is also probed from the proxy's side
                self.router = open_router(docker, proxy, self.topology, self.clock,
                                          o.proxy_kind, log=self.r.info, wait=PROXY_GRACE)
        elif step.action == "start-needs":   # a first deploy's database, before migrations
            text = compose.set_images(images).text
            docker.compose(text, "up", "-d", "--quiet-pull", *step.services)
            # `--wait` fails on a one-shot service that exits 0: wait only for health checks
            if checked := [s for s in step.services if compose.has_healthcheck(s)]:
                docker.compose(text, "up", "-d", "--wait", "--wait-timeout",
                               str(max(1, round(o.health_timeout))), *checked)
            self.r.info(f"started {', '.join(step.services)}"
                        + (f" ({', '.join(checked)} healthy)" if checked else ""))
        elif step.action == "pre-deploy":
            self._pre_deploy(docker, compose.set_images(images).text, step)
        elif step.action == "route":
            router.route_to(set(step.colors))
            self.r.info(f"traffic → {' + '.join(c.value for c in Color if c in step.colors)}")
        elif step.action == "drain":
            waited = wait_until_drained(router, step.color, o.drain_timeout, self.clock,
                                        warn=self.r.warning, log=self.r.info)
            self.r.info(f"{step.color} drained in {waited:.1f}s")
        elif step.action == "replace":
            touched.append(step.color)
            text = compose.set_images(dict(step.images)).text
            docker.compose(text, "up", "-d", "--no-deps", "--force-recreate", *step.services)
            self.r.info("recreated " + ", ".join(f"{s} on {i}" for s, i in step.images))
        elif step.action == "await-healthy":
            containers = docker.project_containers()
            names = {s: containers[s].name for s in step.services if s in containers}
            apps = {service_name(a, step.color): a for a in o.apps}
            waited = wait_until_healthy(docker, router, names, apps, step.color, o.health_path,
                                        o.health_timeout, self.clock, log=self.r.info)
            self.r.info(f"{', '.join(step.services)} healthy after {waited:.1f}s")
        else:
            raise AssertionError(step.action)

    def _pre_deploy(self, docker: RemoteDocker, compose_text: str, step: Step) -> None:
        """The pre-deploy command in a one-off container of the service on its new image,
        named so that a timeout or a cancel can remove it; its output goes to the log."""
        name = f"bluegreen-pre-deploy-{self.result.project}-{os.getpid()}"
        command = shlex.join(step.command)
        try:
            out = docker.compose(compose_text, "run", "--rm", "--no-deps", "-T", "--name", name,
                                 step.services[0], *step.command,
                                 timeout=self.o.pre_deploy_timeout)
        except ComposeFailed as e:
            generic = ("its output is in the evidence: fix the command (or what it needs) "
                       "and deploy again")
            raise DeployError(
                f"the pre-deploy command `{command}` failed (exit {e.returncode}); no traffic "
                "was switched", evidence=e.evidence,
                hint=generic if e.hint == SEE_OUTPUT else e.hint) from None
        except subprocess.TimeoutExpired:
            raise DeployError(
                f"the pre-deploy command `{command}` did not finish within "
                f"{self.o.pre_deploy_timeout:g}s; it was stopped and no traffic was switched",
                hint="raise pre-deploy-timeout if it needs longer") from None
        finally:
            docker.remove_container(name)     # gone already after --rm, unless interrupted
        for line in out.splitlines():
            self.r.info(f"| {line}")

    def _final_state(self, docker: RemoteDocker, router: Router | None) -> None:
        containers = docker.project_containers()
        self.result.final = {s: containers[s] for s in self.colour_services if s in containers}
        if router:
            self.result.routed = {a: sorted(map(str, c)) for a, c in router.routed().items()}


def _phases(plan: Plan):
    """Group steps into the phases a person follows: pull, replace blue, replace green...
    A step that names its phase (blue-green plans, the pre-deploy command) keeps it."""
    groups: list[tuple[str, list[Step]]] = []
    for s in plan.steps:
        if s.phase:
            name = s.phase
        elif plan.first_deploy:
            name = "First deploy: start the stack"
        elif s.action in ("pull", "up-missing"):
            name = "Pull the new images"
        elif s.action == "route" and s.colors == frozenset(Color):
            name = "Route traffic to both colours"
        elif s.color is not None:
            name = f"Replace {s.color}"
        else:   # a route step that takes a colour out: it opens that colour's phase
            name = f"Replace {next(iter(frozenset(Color) - s.colors))}"
        if groups and groups[-1][0] == name:
            groups[-1][1].append(s)
        else:
            groups.append((name, [s]))
    return groups


def default_env() -> dict[str, str]:
    """The environment the front doors hand to child processes."""
    return {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "DOCKER_CONTEXT")}
