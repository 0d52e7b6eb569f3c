"""The pre-deploy command (database migrations) on the real test world: it runs on the new
image before any traffic moves, after the services it needs on a first deploy; when it
fails or hangs, nothing is switched, no request fails and no container is left behind."""
from __future__ import annotations

import pytest

from testworld.hey import Hey
from testworld.load import LoadGenerator

from .deploying import deploy, next_port, versions_served

pytestmark = pytest.mark.integration

# the "database": the sample app (v1, whatever the deploy's tag) with a 2-s boot and a
# health check, so a command started before it is ready fails
DB = """
  {app}-db:
    container_name: {app}-db
    image: {image}
    environment:
      BOOT_DELAY: "2"
    healthcheck:
      test: ["CMD", "curl", "-fsS", "http://localhost:8000/health"]
      interval: 30s
      start_period: 30s
      start_interval: 200ms
    networks:
      - {app}

  {app}-init:
    image: {image}
    command: ["true"]
    networks:
      - {app}
"""
# prints the version of the image it runs on, and fails unless the database answers
MIGRATE = ("sh", "-c", "echo migrating to $APP_VERSION && curl -fsS http://$DB:8000/health "
                       ">/dev/null && echo migrated")


@pytest.fixture
def stack(world, tmp_path):
    made = []

    def make():
        port = next_port()
        app, project = f"m{port}", f"pre{port}"
        compose = world.render_stack("article", tmp_path / app, app=app, port=port, tag="v1",
                                     boot_delay=1)
        text = compose.read_text().replace("\nnetworks:\n", DB.format(
            app=app, image=world.app_image("v1")) + "\nnetworks:\n", 1)
        compose.write_text(text.replace("BOOT_DELAY:", f"DB: {app}-db\n      BOOT_DELAY:", 1))
        made.append((compose, project))
        return compose, project, app, f"http://127.0.0.1:{port}/"
    yield make
    for compose, project in made:
        world.compose(compose.parent, "down", "-v", "-t", "1", project=project, check=False)


def leftovers(world, project):
    return world.docker("ps", "-aq", "--filter", f"name=bluegreen-pre-deploy-{project}").stdout.split()


def test_migrations_run_on_the_new_image_before_traffic_moves(world, stack):
    compose, project, app, url = stack()
    first = deploy(world, compose, "v1", project, apps=(app,), pre_deploy=MIGRATE)
    assert first.result == "success", first.log
    log = first.log
    # the database was started (and healthy) before the command, the app after it
    assert log.index(f"started {app}-db, {app}-init ({app}-db healthy)") \
        < log.index("| migrating to v1") \
        < log.index("| migrated") < log.index("First deploy: start the stack")

    with Hey(url, duration=40, concurrency=10, rate=10) as hey, \
            LoadGenerator(url, concurrency=10, rate=200, duration=40) as load:
        second = deploy(world, compose, "v2", project, apps=(app,), pre_deploy=MIGRATE)
    print("hey:", hey.report, "\n", load.summary)
    assert second.result == "success", second.log
    log = second.log
    assert log.index("▶ Pull the new images") < log.index("| migrating to v2") \
        < log.index("▶ Replace blue")
    assert hey.report["failed"] == 0 and load.report["failed"] == 0, load.report["failure_kinds"]
    assert leftovers(world, project) == []
    served = versions_served(world, project, compose)
    assert served[f"{app}-blue"] == served[f"{app}-green"] == world.app_image("v2")


@pytest.mark.parametrize("command, timeout, says", [
    (("sh", "-c", "echo cannot migrate >&2; exit 3"), 600, "failed (exit 3)"),
    (("sleep", "60"), 2, "did not finish within 2s"),
])
def test_a_failing_or_hanging_command_switches_nothing(world, stack, command, timeout, says):
    compose, project, app, url = stack()
    assert deploy(world, compose, "v1", project, apps=(app,)).result == "success"
    before = versions_served(world, project, compose)

    with Hey(url, duration=40, concurrency=10, rate=10) as hey, \
            LoadGenerator(url, concurrency=10, rate=200, duration=40) as load:
        result = deploy(world, compose, "v2", project, apps=(app,), pre_deploy=command,
                        pre_deploy_timeout=timeout)
    print("hey:", hey.report, "\n", load.summary)
    assert result.result == "failed" and result.error.exit_code == 6, result.log
    assert says in result.error.message and "no traffic was switched" in result.error.message
    if "exit 3" in says:
        assert "cannot migrate" in result.error.evidence
    assert "▶ Replace" not in result.log
    assert versions_served(world, project, compose) == before        # v1, untouched
    assert leftovers(world, project) == []
    assert set(load.report["versions"]) == {"v1"}
    assert hey.report["failed"] == 0 and load.report["failed"] == 0, load.report["failure_kinds"]


def test_a_one_off_container_of_the_app_is_not_taken_for_its_colour(world, stack):
    """Someone left `docker compose run app-blue ...` running on the server (a shell, a
    console): it carries the service's labels and is newer, but it is not the colour."""
    compose, project, app, url = stack()
    assert deploy(world, compose, "v1", project, apps=(app,)).result == "success"
    console = compose.with_name("console.yaml")     # the same service, on another tag
    console.write_text(compose.read_text().replace("/sample-app:v1", "/sample-app:v3"))
    world.docker("compose", "-p", project, "-f", str(console), "run", "-d", "--no-deps",
                 "--name", f"{app}-console", f"{app}-blue", "sleep", "120")
    try:
        with LoadGenerator(url, concurrency=10, rate=200, duration=40) as load:
            result = deploy(world, compose, "v2", project, apps=(app,))
        print(load.summary)
        assert result.result == "success", result.log
        assert result.previous_tag == "v1"
        assert load.report["failed"] == 0, load.report["failure_kinds"]
        served = world.docker("inspect", "-f", "{{.Config.Image}}", f"{app}-blue",
                              f"{app}-green", f"{app}-console").stdout.split()
        assert served == [world.app_image("v2")] * 2 + [world.app_image("v3")]
    finally:
        world.docker("rm", "-f", f"{app}-console", check=False)
