"""Several hosts: host by host, the first as a canary. The first failure stops the run and
leaves every remaining host untouched (not even connected to); the result has a row per
host. Each host gets its deploy history written and, after a successful deploy, its image
retention applied, on the deploy's own connection (engine `after` hooks).

For hosts deployed in parallel or independently, use a workflow matrix instead (one job per
host; the deploy lock keeps two jobs off the same host and project): see docs/action.md.
"""
from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from .engine import Deployment, DeployOptions, DeployResult
from .errors import BluegreenError, InputError
from .history import HistoryEntry, HistoryStore, Origin, deployed_tags, make_entry
from .image_ref import ImageRef
from .report import Phase, Reporter
from .retention import apply_retention, keep_tags, kept_for_other_projects, live_projects
from .rollback import HostCommandOptions, Rollback
from .ssh import SshTarget

HOST_RE = re.compile(r"^(?:(?P<user>[A-Za-z_][A-Za-z0-9_.-]{0,31})@)?"
                     r"(?P<host>[A-Za-z0-9_.-]+|\[[0-9a-fA-F:.]+\])(?::(?P<port>\d{1,5}))?$")


@dataclass(frozen=True)
class HostSpec:
    host: str
    port: int
    user: str

    @property
    def display(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"


def parse_hosts(values, default_port: int = 22, default_user: str = "deploy") -> list[HostSpec]:
    """`a:22,b:2223`, `deploy@a b:2223` (commas, spaces or new lines between), or a list of
    such strings (a repeated --host). The order is kept: the first is the canary."""
    if isinstance(values, str):
        values = [values]
    items = [x for v in values for x in re.split(r"[\s,]+", v.strip()) if x]
    if not items:
        raise InputError("no host given", hint="e.g. --hosts app1.example.com,app2.example.com:2222")
    out: list[HostSpec] = []
    for item in items:
        m = HOST_RE.match(item)
        port = int(m.group("port")) if m and m.group("port") else default_port
        if not m or item.startswith("-") or not 0 < port < 65536 or m.group("host").startswith("["):
            raise InputError(f"{item!r} is not a host", hint="write each host as host, host:port "
                             "or user@host:port, e.g. app1.example.com,deploy@app2.example.com:2222")
        spec = HostSpec(m.group("host"), port, m.group("user") or default_user)
        if any((s.host, s.port) == (spec.host, spec.port) for s in out):
            raise InputError(f"{spec.host}:{spec.port} is listed twice",
                             hint="list each host once")
        out.append(spec)
    return out


def targets(specs: list[HostSpec], template: SshTarget) -> list[SshTarget]:
    """One SSH target per host; key, known_hosts and host-key checking from the template."""
    return [replace(template, host=s.host, port=s.port, user=s.user) for s in specs]


# -- results ------------------------------------------------------------------------------

@dataclass
class HostRun:
    target: SshTarget
    role: str                                  # canary | next | only
    result: DeployResult | None = None         # None: skipped (an earlier host failed)
    phases: list[Phase] = field(default_factory=list)
    history: list[HistoryEntry] = field(default_factory=list)
    retention: str = ""

    @property
    def status(self) -> str:
        return self.result.result if self.result is not None else "skipped"


@dataclass
class FleetResult:
    action: str                       # deploy | rollback
    tag: str
    runs: list[HostRun]
    seconds: float = 0.0

    @property
    def failed(self) -> HostRun | None:
        return next((r for r in self.runs if r.result is not None and r.result.error), None)

    @property
    def error(self) -> BluegreenError | None:
        f = self.failed
        return f.result.error if f else None

    @property
    def result(self) -> str:
        f = self.failed
        if f is not None:
            return f.result.result
        statuses = {r.status for r in self.runs}
        return "dry-run" if statuses == {"dry-run"} else "success"

    @property
    def first(self) -> DeployResult:
        """The canary's result: the one the Action's single-host outputs describe."""
        return self.runs[0].result


# -- running ------------------------------------------------------------------------------

class _HostReporter:
    """The run's reporter with each phase name prefixed by the host (several hosts only)."""

    def __init__(self, inner: Reporter, label: str):
        self._inner = inner
        self._label = label

    def phase(self, name: str):
        return self._inner.phase(f"{self._label} · {name}")

    def __getattr__(self, name):
        return getattr(self._inner, name)


def run_hosts(hosts: list[SshTarget], reporter: Reporter, action: str, tag: str,
              one: Callable[[SshTarget, Reporter, HostRun], DeployResult],
              stop_on_failure: bool = True) -> FleetResult:
    """Run `one` host after the other; after a failure the rest are skipped."""
    start = time.monotonic()
    fleet = FleetResult(action, tag, [])
    several = len(hosts) > 1
    stopped = False
    for i, target in enumerate(hosts):
        run = HostRun(target, "only" if not several else ("canary" if i == 0 else "next"))
        fleet.runs.append(run)
        if stopped:
            continue
        if several:
            role = "canary" if i == 0 else f"host {i + 1} of {len(hosts)}"
            reporter.info(f"━━ {target.display} ({role})")
        label = target.display if several else ""
        r = _HostReporter(reporter, label) if several else reporter
        first_phase = len(reporter.phases)
        run.result = one(target, r, run)
        run.phases = [Phase(p.name.split(" · ", 1)[1] if several and " · " in p.name else p.name,
                            p.seconds, p.status) for p in reporter.phases[first_phase:]]
        if run.result.error is not None and stop_on_failure:
            stopped = True
            left = len(hosts) - i - 1
            if left:
                reporter.warning(f"{target.display} failed: the {left} remaining host"
                                 f"{'s are' if left > 1 else ' is'} left untouched")
    fleet.seconds = time.monotonic() - start
    return fleet


def deploy_fleet(base: DeployOptions, hosts: list[SshTarget], reporter: Reporter,
                 origin: Origin, keep_images: int = 3,
                 watch: list[Deployment] | None = None) -> FleetResult:
    """Deploy `base` (its target replaced by each host) host by host. `watch` receives each
    Deployment as it starts (a cancelled Action reports what the current one knew)."""
    def one(target: SshTarget, r: Reporter, run: HostRun) -> DeployResult:
        started = time.monotonic()
        hooks = [lambda d, docker, error: _after_deploy(d, docker, error, run, origin,
                                                        keep_images, started)]
        deployment = Deployment(replace(base, target=target), r, after=hooks)
        if watch is not None:
            watch.append(deployment)
        return deployment.run()
    return run_hosts(hosts, reporter, "deploy", base.tag, one, stop_on_failure=not base.dry_run)


def rollback_fleet(base: HostCommandOptions, hosts: list[SshTarget],
                   reporter: Reporter) -> FleetResult:
    def one(target: SshTarget, r: Reporter, run: HostRun) -> DeployResult:
        result = Rollback(replace(base, target=target), r).run()
        run.history = result.history
        return result
    fleet = run_hosts(hosts, reporter, "rollback", "", one)
    fleet.tag = next((r.result.tag for r in fleet.runs if r.result is not None), "")
    return fleet


def _after_deploy(d: Deployment, docker, error, run: HostRun, origin: Origin, keep: int,
                  started: float) -> None:
    """History for every deploy that got as far as a plan; retention after a success."""
    res = d.result
    if d.o.dry_run or not res.plan:
        return
    if error is None and res.result == "success":
        outcome = "success"
    elif error is None:     # interrupted (cancelled) before the deploy finished
        outcome, error = "failed", BluegreenError("the deploy was interrupted (cancelled)")
    else:
        outcome = "rolled-back" if getattr(error, "rolled_back", False) else "failed"
    entry = make_entry(
        action="deploy", project=res.project, host=d.o.target.display, result=outcome,
        new_tag=d.o.tag, old_tag=res.previous_tag, origin=origin, strategy=d.o.strategy,
        seconds=time.monotonic() - started, error=error.message if error else "",
        images={s: new for s, (_old, new) in res.images.items()} if error is None else {})
    try:   # every project's history comes back: retention keeps the others' tags too
        histories = HistoryStore(docker.client, res.project).append_and_read_all(entry)
        run.history = histories[res.project]
    except Exception as e:   # noqa: BLE001 - the deploy's outcome stands
        d.r.warning(f"could not write the deploy history: {type(e).__name__}: {e}")
        histories = None
    if outcome != "success" or keep <= 0:
        return
    if histories is None:    # without it, removing nothing is the safe side
        d.r.warning("image retention skipped: the deploy history could not be read")
        return
    repos = {ImageRef.parse(new).name for _old, new in res.images.values()}
    kept = keep_tags(deployed_tags(run.history), keep, current=[d.o.tag])
    others = kept_for_other_projects(histories, live_projects(docker.client), repos, keep,
                                     own=res.project)
    also = [t for t in others if t not in kept]
    # an image Docker refuses to remove (used, or tagged elsewhere) is kept: a detail
    plan, removed = apply_retention(docker.client, repos, kept + tuple(also), log=d.r.detail)
    run.retention = (f"kept {', '.join(plan.kept) or 'nothing'}"
                     + (f"; removed {', '.join(removed)}" if removed else ""))
    for_others = "".join(f"; {t} for {', '.join(others[t])}" for t in also)
    d.r.info(f"image retention (keep {keep} tags: {', '.join(kept)}{for_others}): "
             + (f"removed {', '.join(removed)}" if removed else "nothing to remove"))
