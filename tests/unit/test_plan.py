from bluegreen_action.colors import Color
from bluegreen_action.plan import HostFacts, make_plan, rollback_plan

B, G = Color.BLUE, Color.GREEN
BOTH = frozenset({B, G})
NEW = {"app-blue": "r/app:v2", "app-green": "r/app:v2"}


def actions(plan):
    out = []
    for s in plan.steps:
        if s.action == "route":
            out.append("route " + "+".join(c.value for c in Color if c in s.colors))
        elif s.color is not None:
            out.append(f"{s.action} {s.color}")
        else:
            out.append(s.action)
    return out


def running(*services):
    return {s: True for s in services}


def test_steady_host_swaps_blue_then_green_and_never_routes_before_health():
    facts = HostFacts(running(*NEW), {"app": {B, G}})
    plan = make_plan(["app"], facts, NEW)
    assert not plan.first_deploy and plan.order == (B, G)
    assert actions(plan) == [
        "pull",
        "route green", "drain blue", "replace blue", "await-healthy blue",
        "route blue", "drain green", "replace green", "await-healthy green",
        "route blue+green"]
    replace = [s for s in plan.steps if s.action == "replace"]
    assert replace[0].images == (("app-blue", "r/app:v2"),)


def test_empty_host_is_a_first_deploy():
    plan = make_plan(["app"], HostFacts({}, {}), NEW)
    assert plan.first_deploy
    assert actions(plan) == ["up-all", "await-healthy blue", "await-healthy green",
                             "route blue+green"]


def test_half_done_host_replaces_the_idle_colour_first():
    # killed after routing to blue only: green serves nothing, so it goes first
    plan = make_plan(["app"], HostFacts(running(*NEW), {"app": {B}}), NEW)
    assert plan.order == (G, B)
    assert actions(plan)[1:3] == ["route blue", "drain green"]


def test_a_stopped_colour_goes_first():
    facts = HostFacts({"app-blue": True, "app-green": False}, {"app": {B, G}})
    assert make_plan(["app"], facts, NEW).order == (G, B)


def test_several_apps_switch_together_with_one_route_change_per_step():
    new = {f"{a}-{c}": f"r/{a}:v2" for a in ("api", "web") for c in ("blue", "green")}
    plan = make_plan(["api", "web"], HostFacts(running(*new), {"api": {B, G}, "web": {B, G}}), new)
    replace_blue = [s for s in plan.steps if s.action == "replace"][0]
    assert replace_blue.services == ("api-blue", "web-blue")
    assert sum(1 for s in plan.steps if s.action == "route") == 3


def test_rollback_of_the_first_colour_keeps_traffic_on_the_untouched_one():
    plan = rollback_plan(["app"], [B], {G}, {"app-blue": "r/app:v1", "app-green": "r/app:v1"})
    assert actions(plan) == ["route green", "drain blue", "replace blue", "await-healthy blue",
                             "route blue+green"]


def test_rollback_after_the_switch_restores_the_unrouted_colour_first():
    old = {"app-blue": "r/app:v1", "app-green": "r/app:v1"}
    plan = rollback_plan(["app"], [B, G], {B}, old)
    assert plan.order == (G, B)
    assert actions(plan)[:4] == ["route blue", "drain green", "replace green", "await-healthy green"]
    assert actions(plan)[4] == "route green"


def test_describe_lists_every_step():
    text = make_plan(["app"], HostFacts(running(*NEW), {"app": {B, G}}), NEW).describe()
    assert "1. pull the new images of app-blue, app-green" in text
    assert "recreate app-blue on r/app:v2" in text
    assert text.count("\n") == 9


def test_services_added_to_the_file_are_created_before_the_swap():
    facts = HostFacts(running(*NEW), {"app": {B, G}}, missing=("worker",))
    plan = make_plan(["app"], facts, NEW)
    assert actions(plan)[:3] == ["pull", "up-missing", "route green"]
    assert "create the services not running yet: worker" in plan.describe()
