"""The pre-deploy command (migrations): where it sits in every kind of plan, how its
command line is read, and how the log groups it."""
import pytest

from bluegreen_action.colors import Color
from bluegreen_action.engine import _phases
from bluegreen_action.plan import HostFacts, make_plan, split_command, with_pre_deploy
from bluegreen_action.strategies import blue_green_plan

from .test_plan import NEW, actions, running

B, G = Color.BLUE, Color.GREEN
MIGRATE = ("./manage.py", "migrate")


def test_it_runs_after_the_pull_and_before_any_traffic_moves():
    facts = HostFacts(running(*NEW, "db"), {"app": {B, G}}, missing=("worker",))
    plan = with_pre_deploy(make_plan(["app"], facts, NEW), "app-blue", MIGRATE)
    assert actions(plan)[:4] == ["pull", "up-missing", "pre-deploy", "route green"]
    step = plan.steps[2]
    assert step.services == ("app-blue",) and step.command == MIGRATE
    assert step.describe() == ("run `./manage.py migrate` in a one-off app-blue container on "
                               "the new image")


def test_blue_green_runs_it_before_booting_the_idle_colour():
    facts = HostFacts(running(*NEW), {"app": {B}})
    plan = with_pre_deploy(blue_green_plan(["app"], facts, NEW), "app-blue", MIGRATE)
    assert actions(plan)[:3] == ["pull", "pre-deploy", "replace green"]


def test_a_first_deploy_starts_the_other_services_then_the_command_then_the_app():
    facts = HostFacts({}, {}, missing=("db", "caddy"))
    plan = with_pre_deploy(make_plan(["app"], facts, NEW), "app-blue", MIGRATE, needs=("db",))
    assert actions(plan)[:3] == ["start-needs", "pre-deploy", "up-all"]
    assert plan.steps[0].services == ("db",) and plan.first_deploy
    assert [name for name, _ in _phases(plan)] == ["Run the pre-deploy command",
                                                    "First deploy: start the stack"]
    alone = with_pre_deploy(make_plan(["app"], HostFacts({}, {}), NEW), "app-blue", MIGRATE)
    assert actions(alone)[:2] == ["pre-deploy", "up-all"]


def test_the_log_gives_it_a_phase_of_its_own():
    facts = HostFacts(running(*NEW), {"app": {B, G}})
    plan = with_pre_deploy(make_plan(["app"], facts, NEW), "app-blue", MIGRATE)
    assert [name for name, _ in _phases(plan)] == [
        "Pull the new images", "Run the pre-deploy command", "Replace blue", "Replace green",
        "Route traffic to both colours"]


def test_the_command_is_split_into_words_as_a_shell_would():
    assert split_command("./manage.py migrate --noinput") == ("./manage.py", "migrate", "--noinput")
    assert split_command("sh -c 'rake db:migrate && rake db:seed'") == (
        "sh", "-c", "rake db:migrate && rake db:seed")
    assert split_command("  ") == ()
    with pytest.raises(ValueError):
        split_command("sh -c 'unbalanced")


def test_which_services_a_first_deploy_waits_for_before_the_command(tmp_path):
    from bluegreen_action.compose_file import ComposeFile
    compose = ComposeFile(tmp_path / "compose.yaml", """
services:
  db: {image: postgres:16, healthcheck: {test: ["CMD", "pg_isready"], start_interval: 1s}}
  init: {image: busybox, command: ["true"]}
  cache: {image: redis:7, healthcheck: {disable: true}}
  legacy: {image: x, healthcheck: {test: ["NONE"]}}
""")
    assert [s for s in compose.services if compose.has_healthcheck(s)] == ["db"]
