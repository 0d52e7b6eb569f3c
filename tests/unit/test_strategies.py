import pytest

from bluegreen_action.colors import Color
from bluegreen_action.plan import HostFacts
from bluegreen_action.strategies import (
    changed_images,
    live_colour,
    plan_for,
    recovery_plan,
    served_before,
)

from .test_plan import NEW, actions, running

B, G = Color.BLUE, Color.GREEN
OLD = {"app-blue": "r/app:v1", "app-green": "r/app:v0"}


def bg(facts, apps=("app",), new=NEW):
    return plan_for("blue-green", list(apps), facts, new)


def test_rolling_is_the_engine_plan_unchanged():
    facts = HostFacts(running(*NEW), {"app": {B, G}})
    plan = plan_for("rolling", ["app"], facts, NEW)
    assert plan.strategy == "rolling" and actions(plan)[0] == "pull"
    assert actions(plan)[-1] == "route blue+green"


def test_blue_green_boots_only_the_idle_colour_and_switches_once():
    plan = bg(HostFacts(running(*NEW), {"app": {B}}))
    assert plan.strategy == "blue-green" and plan.order == (G,)
    assert actions(plan) == ["pull", "replace green", "await-healthy green", "route green"]
    pull, replace = plan.steps[0], plan.steps[1]
    assert pull.services == ("app-green",)                 # the live colour's image is not pulled
    assert replace.images == (("app-green", "r/app:v2"),)
    assert [s.phase for s in plan.steps] == [
        "Pull the new images", "Boot green on the new version", "Boot green on the new version",
        "Switch traffic to green"]


def test_blue_green_never_routes_two_colours():
    for routed in ({B}, {G}, {B, G}, set()):
        plan = bg(HostFacts(running(*NEW), {"app": routed}))
        assert all(len(s.colors) == 1 for s in plan.steps if s.action == "route"), routed
        # the booted colour is routed only after it was found healthy
        route_to_new = [i for i, s in enumerate(plan.steps) if s.action == "route"
                        and s.colors == {plan.order[0]}]
        healthy = [i for i, s in enumerate(plan.steps) if s.action == "await-healthy"]
        assert route_to_new and healthy and healthy[-1] < route_to_new[0]


def test_after_a_switch_the_other_colour_is_booted_next():
    assert bg(HostFacts(running(*NEW), {"app": {G}})).order == (B,)


def test_a_host_deployed_with_rolling_gets_one_colour_taken_out_first():
    plan = bg(HostFacts(running(*NEW), {"app": {B, G}}))
    assert plan.order == (B,)
    assert actions(plan) == ["pull", "route green", "drain blue", "replace blue",
                             "await-healthy blue", "route blue"]
    assert plan.steps[1].phase == "Take blue out of the traffic"


def test_a_live_colour_whose_containers_are_down_is_not_trusted():
    facts = HostFacts({"app-blue": False, "app-green": True}, {"app": {B}})
    plan = bg(facts)
    assert plan.order == (B,)                       # boot the stopped one, serve from green meanwhile
    assert actions(plan)[1] == "route green"


def test_services_added_to_the_file_are_created_after_the_pull():
    facts = HostFacts(running(*NEW), {"app": {B}}, missing=("worker",))
    assert actions(bg(facts))[:3] == ["pull", "up-missing", "replace green"]


def test_first_deploy_starts_both_and_routes_to_blue_only():
    plan = bg(HostFacts({}, {}))
    assert plan.first_deploy
    assert actions(plan) == ["up-all", "await-healthy blue", "await-healthy green", "route blue"]


def test_several_apps_switch_together():
    new = {f"{a}-{c}": f"r/{a}:v2" for a in ("api", "web") for c in ("blue", "green")}
    plan = bg(HostFacts(running(*new), {"api": {B}, "web": {B}}), apps=("api", "web"), new=new)
    assert plan.steps[1].services == ("api-green", "web-green")
    assert sum(1 for s in plan.steps if s.action == "route") == 1


def test_apps_that_disagree_are_not_a_live_colour():
    assert live_colour(["a", "b"], {"a": {B}, "b": {G}}) is None
    assert live_colour(["a", "b"], {"a": {B}, "b": {B}}) is B
    assert live_colour(["a"], {"a": {B, G}}) is None
    assert live_colour(["a"], {}) is None


def test_unknown_strategy():
    with pytest.raises(ValueError):
        plan_for("canary", ["app"], HostFacts({}, {}), NEW)


# -- undoing a failed blue-green deploy --------------------------------------------------------

def test_a_colour_that_never_became_healthy_goes_back_to_its_old_images_without_a_switch():
    plan = bg(HostFacts(running(*NEW), {"app": {B}}))
    back = recovery_plan(plan, ["app"], [G], {B}, OLD)
    assert actions(back) == ["replace green", "await-healthy green"]
    assert back.steps[0].images == (("app-green", "r/app:v0"),)


def test_a_failure_after_the_switch_switches_back_first():
    plan = bg(HostFacts(running(*NEW), {"app": {B}}))
    back = recovery_plan(plan, ["app"], [G], {G}, OLD)
    assert actions(back) == ["route blue", "replace green", "await-healthy green"]


def test_a_colour_that_ran_nothing_before_is_left_out_of_the_traffic():
    plan = bg(HostFacts({"app-blue": True}, {"app": {B}}))
    back = recovery_plan(plan, ["app"], [G], {B}, {"app-blue": "r/app:v1"})
    assert back.steps == ()


def test_rolling_recovery_is_the_engine_rollback():
    plan = plan_for("rolling", ["app"], HostFacts(running(*NEW), {"app": {B, G}}), NEW)
    back = recovery_plan(plan, ["app"], [B], {G}, {"app-blue": "r/app:v1", "app-green": "r/app:v1"})
    assert actions(back)[-1] == "route blue+green"


def test_only_the_booted_colour_changes_and_the_live_one_served_before():
    images = {"app-blue": ("r/app:v1", "r/app:v3"), "app-green": ("r/app:v2", "r/app:v3")}
    plan = bg(HostFacts(running(*NEW), {"app": {G}}))          # green live on v2: boot blue
    assert changed_images(plan, ["app"], images) == {
        "app-blue": ("r/app:v1", "r/app:v3"), "app-green": ("r/app:v2", "r/app:v2")}
    assert served_before(plan, ["app"]) == "app-green"
    rolling = plan_for("rolling", ["app"], HostFacts(running(*NEW), {"app": {B, G}}), NEW)
    assert changed_images(rolling, ["app"], images) == images
    assert served_before(rolling, ["app"]) is None
    assert served_before(bg(HostFacts({}, {})), ["app"]) is None
