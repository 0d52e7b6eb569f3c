"""The Action's inputs for several hosts, the strategy, image retention and rollback."""
import pytest

from bluegreen_action.action_inputs import read_inputs

from .test_action_inputs import env, keys, problems, workspace  # noqa: F401 - fixtures


def test_one_host_is_a_fleet_of_one(env):  # noqa: F811
    i = read_inputs(env)
    assert i.hosts == (("app.example.com", 22, "deploy"),)
    assert (i.strategy, i.keep_images, i.command) == ("rolling", 3, "deploy")


def test_hosts_replace_host_and_each_needs_a_known_hosts_line(env):  # noqa: F811
    line = env["INPUT_KNOWN-HOSTS"].split(" ", 1)[1]
    env.update({"INPUT_HOST": "", "INPUT_HOSTS": "app.example.com\nops@b.example.com:2222",
                "INPUT_KNOWN-HOSTS": f"app.example.com {line}[b.example.com]:2222 {line}"})
    i = read_inputs(env)
    assert i.hosts == (("app.example.com", 22, "deploy"), ("b.example.com", 2222, "ops"))
    assert (i.host, i.port, i.user) == ("app.example.com", 22, "deploy")
    assert i.target_display == "deploy@app.example.com:22, ops@b.example.com:2222"
    env["INPUT_KNOWN-HOSTS"] = f"app.example.com {line}"
    assert "holds no key for [b.example.com]:2222" in problems(env)["known-hosts"]


@pytest.mark.parametrize("hosts, says", [
    ("a.example.com,a.example.com:22", "listed twice"),
    ("https://a.example.com", "is not a host"),
    ("a.example.com:99999", "is not a host"),
])
def test_bad_hosts(env, hosts, says):  # noqa: F811
    env.update({"INPUT_HOST": "", "INPUT_HOSTS": hosts})
    assert says in problems(env)["hosts"]


def test_host_and_hosts_together(env):  # noqa: F811
    env["INPUT_HOSTS"] = "b.example.com"
    assert "together with `host`" in problems(env)["hosts"]


def test_neither_host_nor_hosts(env):  # noqa: F811
    env["INPUT_HOST"] = ""
    assert "required" in problems(env)["host"]


def test_strategy_keep_images_and_command(env):  # noqa: F811
    env.update({"INPUT_STRATEGY": "blue-green", "INPUT_KEEP-IMAGES": "0"})
    i = read_inputs(env)
    assert i.strategy == "blue-green" and i.keep_images == 0
    env.update({"INPUT_STRATEGY": "canary", "INPUT_KEEP-IMAGES": "-2", "INPUT_COMMAND": "undo"})
    assert set(problems(env)) == {"strategy", "keep-images", "command"}


def test_a_rollback_needs_no_tag(env):  # noqa: F811
    env.update({"INPUT_COMMAND": "rollback", "INPUT_TAG": ""})
    i = read_inputs(env)
    assert i.command == "rollback" and i.tag == ""
