"""The deploy plan: facts about the host in, an ordered list of steps out. Pure, so every
path (first deploy, half-done host, rollback) is tested without a server."""
from __future__ import annotations

import shlex
from dataclasses import dataclass, field, replace

from .colors import Color, service_name


@dataclass(frozen=True)
class Step:
    action: str      # pull | up-all | up-missing | start-needs | pre-deploy | route | drain |
    #                  replace | await-healthy
    color: Color | None = None
    colors: frozenset[Color] = frozenset()
    services: tuple[str, ...] = ()
    images: tuple[tuple[str, str], ...] = ()   # (service, image) for replace
    command: tuple[str, ...] = ()    # argv for pre-deploy
    phase: str = ""                  # the phase it belongs to, when the plan names its phases

    def describe(self) -> str:
        if self.action == "pull":
            return f"pull the new images of {', '.join(self.services)}"
        if self.action == "up-all":
            return "first deploy: bring the whole stack up"
        if self.action == "up-missing":
            return f"create the services not running yet: {', '.join(self.services)}"
        if self.action == "start-needs":
            return f"start {', '.join(self.services)} (and wait for their health checks)"
        if self.action == "pre-deploy":
            return (f"run `{shlex.join(self.command)}` in a one-off {self.services[0]} container "
                    "on the new image")
        if self.action == "route":
            return "route traffic to " + " + ".join(c.value for c in Color if c in self.colors)
        if self.action == "drain":
            return f"wait until no request is in flight to {self.color}"
        if self.action == "replace":
            return f"recreate {', '.join(f'{s} on {i}' for s, i in self.images)}"
        if self.action == "await-healthy":
            return f"wait until {', '.join(self.services)} healthy (Docker healthcheck + proxy probe)"
        return self.action


@dataclass(frozen=True)
class HostFacts:
    """What the engine read from the server before planning."""
    running: dict[str, bool]            # service -> its container exists and runs
    routed: dict[str, set[Color]]       # app -> colours the proxy routes to ({} if no proxy)
    missing: tuple[str, ...] = ()       # other services of the file with no container yet


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    first_deploy: bool
    order: tuple[Color, ...] = field(default=())
    strategy: str = "rolling"        # rolling | blue-green (strategies.py)

    def describe(self) -> str:
        return "\n".join(f"{i}. {s.describe()}" for i, s in enumerate(self.steps, 1))


def color_services(apps: list[str], color: Color) -> tuple[str, ...]:
    return tuple(service_name(a, color) for a in apps)


def swap_order(apps: list[str], facts: HostFacts) -> tuple[Color, Color]:
    """Replace first the colour that serves nothing: one the proxy does not route to
    (a deploy stopped half-way) or whose containers are down; else blue."""
    def idle(c: Color) -> bool:
        not_routed = any(facts.routed.get(a) and c not in facts.routed[a] for a in apps)
        down = any(not facts.running.get(service_name(a, c), False) for a in apps)
        return not_routed or down
    first = Color.GREEN if idle(Color.GREEN) and not idle(Color.BLUE) else Color.BLUE
    return first, first.other


def swap_steps(apps: list[str], order: tuple[Color, ...], images: dict[str, str]) -> list[Step]:
    """For each colour in turn: take it out of the proxy, let it drain, recreate it on its
    new image, wait for health, and only then route to it again. A route step that is
    already true changes nothing, so no colour is ever routed before it is healthy."""
    steps: list[Step] = []
    for c in order:
        svcs = color_services(apps, c)
        steps += [Step("route", colors=frozenset(Color) - {c}),
                  Step("drain", color=c),
                  Step("replace", color=c, services=svcs,
                       images=tuple((s, images[s]) for s in svcs)),
                  Step("await-healthy", color=c, services=svcs)]
    steps.append(Step("route", colors=frozenset(Color)))
    return steps


def make_plan(apps: list[str], facts: HostFacts, new_images: dict[str, str]) -> Plan:
    all_colors = tuple(s for c in Color for s in color_services(apps, c))
    if not any(facts.running.get(s) for s in all_colors):
        # The final route step changes nothing for the traffic; it lets the router prepare
        # its switching (Caddy's flag routes) now, before real traffic, not at the next deploy.
        steps = [Step("up-all")] + [Step("await-healthy", color=c, services=color_services(apps, c))
                                    for c in Color] + [Step("route", colors=frozenset(Color))]
        return Plan(tuple(steps), first_deploy=True)
    order = swap_order(apps, facts)
    steps = [Step("pull", services=all_colors)]
    if facts.missing:   # as the article's `up -d --no-recreate`: services added to the file
        steps.append(Step("up-missing", services=facts.missing))
    steps += swap_steps(apps, order, new_images)
    return Plan(tuple(steps), first_deploy=False, order=order)


PRE_DEPLOY_PHASE = "Run the pre-deploy command"


def split_command(text: str) -> tuple[str, ...]:
    """A command line split into words as a POSIX shell splits them; no shell runs it, so
    pipes or `&&` need `sh -c '...'`. ValueError on an unbalanced quote."""
    return tuple(shlex.split(text))


def with_pre_deploy(plan: Plan, service: str, command: tuple[str, ...],
                    needs: tuple[str, ...] = ()) -> Plan:
    """Run `command` (database migrations, say) once, in a one-off container of `service` on
    its new image, after the pull and before any traffic moves: if it fails, nothing was
    switched. A first deploy starts `needs` (the stack's other services, a database) first
    and the app after the command."""
    run = Step("pre-deploy", services=(service,), command=command, phase=PRE_DEPLOY_PHASE)
    steps = list(plan.steps)
    if plan.first_deploy:
        head = [Step("start-needs", services=needs, phase=PRE_DEPLOY_PHASE)] if needs else []
        return replace(plan, steps=tuple(head + [run] + steps))
    at = next((i for i, s in enumerate(steps) if s.action not in ("pull", "up-missing")), len(steps))
    return replace(plan, steps=tuple(steps[:at] + [run] + steps[at:]))


def rollback_plan(apps: list[str], touched: list[Color], routed: set[Color],
                  old_images: dict[str, str]) -> Plan:
    """Put the colours a failed deploy touched back on their old images, the one the proxy
    does not route to first, so traffic always stays on a healthy colour."""
    order = tuple(sorted(touched, key=lambda c: (c in routed, c.value)))
    return Plan(tuple(swap_steps(apps, order, old_images)), first_deploy=False, order=order)
