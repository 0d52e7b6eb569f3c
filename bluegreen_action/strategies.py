"""Deploy strategies: which plan a deploy follows, and how a failed one is undone. Pure.

    rolling      (default) the article's behaviour: both colours serve between deploys; a
                 deploy replaces one colour, then the other (plan.make_plan).
    blue-green   one colour is live, the other keeps the previous version running idle. A
                 deploy boots only the idle colour on the new version and, once it is
                 healthy, switches all traffic to it at once: two versions are never served
                 together, and `bluegreen rollback` switches back without starting anything.

A host that is not yet in the blue-green shape (both colours routed, after rolling deploys)
gets one extra switch the first time: the colour to boot is taken out of the traffic first.
"""
from __future__ import annotations

from .colors import Color, service_name
from .plan import HostFacts, Plan, Step, color_services, make_plan, rollback_plan, swap_order

ROLLING = "rolling"
BLUE_GREEN = "blue-green"
STRATEGIES = (ROLLING, BLUE_GREEN)


def live_colour(apps: list[str], routed: dict[str, set[Color]]) -> Color | None:
    """The one colour every app's traffic goes to, or None (both, none, or apps disagree)."""
    sets = {frozenset(routed.get(a) or ()) for a in apps}
    if len(sets) == 1:
        only = next(iter(sets))
        if len(only) == 1:
            return next(iter(only))
    return None


def plan_for(strategy: str, apps: list[str], facts: HostFacts, new_images: dict[str, str]) -> Plan:
    if strategy == ROLLING:
        return make_plan(apps, facts, new_images)
    if strategy == BLUE_GREEN:
        return blue_green_plan(apps, facts, new_images)
    raise ValueError(f"unknown strategy {strategy!r}")


def blue_green_plan(apps: list[str], facts: HostFacts, new_images: dict[str, str]) -> Plan:
    all_colours = tuple(s for c in Color for s in color_services(apps, c))
    if not any(facts.running.get(s) for s in all_colours):
        first = "First deploy: start the stack"
        steps = [Step("up-all", phase=first)]
        steps += [Step("await-healthy", color=c, services=color_services(apps, c), phase=first)
                  for c in Color]
        steps.append(Step("route", colors=frozenset({Color.BLUE}),
                          phase="Route traffic to blue only (green stays idle)"))
        return Plan(tuple(steps), first_deploy=True, order=(Color.BLUE,), strategy=BLUE_GREEN)

    live = live_colour(apps, facts.routed)
    if live is not None and all(facts.running.get(s) for s in color_services(apps, live)):
        idle = live.other
        steps = _boot(apps, idle, new_images)
    else:   # both colours serve (rolling until now) or a half-done host: free one first
        idle = swap_order(apps, facts)[0]
        svcs = color_services(apps, idle)
        steps = _boot(apps, idle, new_images)
        out = f"Take {idle} out of the traffic"
        steps[1:1] = [Step("route", colors=frozenset({idle.other}), phase=out),
                      Step("drain", color=idle, services=svcs, phase=out)]
    if facts.missing:   # services added to the file since the last deploy, as rolling does
        steps.insert(1, Step("up-missing", services=facts.missing, phase="Pull the new images"))
    return Plan(tuple(steps), first_deploy=False, order=(idle,), strategy=BLUE_GREEN)


def _boot(apps: list[str], idle: Color, images: dict[str, str]) -> list[Step]:
    svcs = color_services(apps, idle)
    boot = f"Boot {idle} on the new version"
    return [Step("pull", services=svcs, phase="Pull the new images"),
            Step("replace", color=idle, services=svcs,
                 images=tuple((s, images[s]) for s in svcs), phase=boot),
            Step("await-healthy", color=idle, services=svcs, phase=boot),
            Step("route", colors=frozenset({idle}), phase=f"Switch traffic to {idle}")]


def recovery_plan(plan: Plan, apps: list[str], touched: list[Color], routed: set[Color],
                  old_images: dict[str, str]) -> Plan:
    """What undoes a failed deploy of this plan: traffic back on (or kept on) the colour
    that served before, and each touched colour back on its old images."""
    if plan.strategy != BLUE_GREEN:
        return rollback_plan(apps, touched, routed, old_images)
    steps: list[Step] = []
    booted = plan.order[0] if plan.order else None
    if booted is not None and booted in routed:    # failed after the switch: switch back first
        steps.append(Step("route", colors=frozenset({booted.other}),
                          phase=f"Switch traffic back to {booted.other}"))
    for c in touched:
        svcs = color_services(apps, c)
        if not all(s in old_images for s in svcs):
            continue   # it ran nothing before: it stays out of the traffic
        restore = f"Put {c} back on its previous images"
        steps += [Step("replace", color=c, services=svcs,
                       images=tuple((s, old_images[s]) for s in svcs), phase=restore),
                  Step("await-healthy", color=c, services=svcs, phase=restore)]
    return Plan(tuple(steps), first_deploy=False, order=tuple(touched), strategy=BLUE_GREEN)


def changed_images(plan: Plan, apps: list[str],
                   images: dict[str, tuple[str | None, str]]) -> dict[str, tuple[str | None, str]]:
    """service -> (old, new) as the deploy leaves it: with blue-green only the booted colour
    gets the new image, the other keeps the previous one."""
    if plan.strategy != BLUE_GREEN or plan.first_deploy or not plan.order:
        return images
    booted = set(color_services(apps, plan.order[0]))
    return {s: (old, new if s in booted else old) for s, (old, new) in images.items()}


def served_before(plan: Plan, apps: list[str]) -> str | None:
    """The service whose image served before a blue-green deploy (the previous tag), or None
    (rolling: both colours ran it)."""
    if plan.strategy != BLUE_GREEN or plan.first_deploy or not plan.order:
        return None
    return service_name(apps[0], plan.order[0].other)
