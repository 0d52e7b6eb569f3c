import pytest

from bluegreen_action.cli import build_parser, keep_images, options_from_args
from bluegreen_action.colors import Color
from bluegreen_action.engine import DeployResult
from bluegreen_action.errors import InputError
from bluegreen_action.fleet import FleetResult, HostRun
from bluegreen_action.fleet_cli import fleet_rows, front_door_origin, targets_from_args
from bluegreen_action.history import Origin
from bluegreen_action.ssh import SshTarget
from bluegreen_action.status import ColourStatus, HostStatus, describe_mode, format_status

B, G = Color.BLUE, Color.GREEN


def args(*extra):
    return build_parser().parse_args(["deploy", "--tag", "v2", "--services", "web", *extra])


def test_hosts_from_repeated_host_and_a_hosts_list(tmp_path):
    a = args("--host", "a", "--host", "b:2223", "--hosts", "ops@c,d:2", "--port", "2200")
    got = [(t.user, t.host, t.port) for t in targets_from_args(a)]
    assert got == [("deploy", "a", 2200), ("deploy", "b", 2223), ("ops", "c", 2200),
                   ("deploy", "d", 2)]


def test_deploy_options_take_the_strategy_and_the_first_host():
    o = options_from_args(args("--hosts", "a,b", "--strategy", "blue-green"), {})
    assert o.strategy == "blue-green" and o.target.host == "a"
    assert options_from_args(args("--host", "a"), {}).strategy == "rolling"


def test_no_host_is_an_input_error():
    with pytest.raises(InputError, match="no server given"):
        targets_from_args(args())


def test_keep_images_is_a_whole_number():
    assert keep_images("0") == 0 and keep_images("5") == 5
    with pytest.raises(InputError):
        keep_images("-1")


def test_the_other_commands_parse():
    p = build_parser()
    r = p.parse_args(["rollback", "--hosts", "a,b", "--services", "web"])
    assert r.command == "rollback" and r.lock_timeout == "60"
    s = p.parse_args(["status", "--host", "a", "--services", "web", "--json"])
    assert s.json
    h = p.parse_args(["history", "--host", "a", "--project-name", "shop", "--limit", "5"])
    assert h.limit == 5


def test_origin_falls_back_to_the_local_user():
    assert "@" in front_door_origin({}).who
    assert front_door_origin({"USER": "ann"}).who.startswith("ann@")


def cs(colour, tag, routed, state="running"):
    return ColourStatus(colour, f"web-{colour}", tag=tag, state=state, routed=routed)


def test_mode_names_the_strategy_in_use():
    blue_green = [cs("blue", "v2", False), cs("green", "v3", True)]
    assert describe_mode(["web"], {"web": {G}}, blue_green) == \
        "blue-green: green is live (v3), blue waits idle (v2)"
    assert describe_mode(["web"], {"web": {B, G}}, [cs("blue", "v2", True), cs("green", "v2", True)]) \
        == "rolling: both colours serve"
    assert "DIFFERENT" in describe_mode(["web"], {"web": {B, G}}, blue_green)
    assert describe_mode(["web"], None, [cs("blue", "", None, "missing")] * 2) == "nothing deployed"
    assert describe_mode(["a", "b"], {"a": {B}, "b": {G}}, blue_green).startswith("mixed")


def test_status_text():
    st = HostStatus("deploy@a:22", "shop", proxy="Caddy 2.11.7", mode="blue-green: ...",
                    colours=[cs("blue", "v2", False), cs("green", "v3", True)])
    text = format_status([st, HostStatus("deploy@b:22", "shop", error="cannot reach b:22")])
    assert "deploy@a:22  project shop" in text
    assert [line.split()[-1] for line in text.splitlines()[4:6]] == ["idle", "routed"]
    assert "  lock:  free" in text and "error: cannot reach b:22" in text


def test_fleet_rows_show_untouched_hosts():
    done = DeployResult("success", host="deploy@a:22", tag="v2", previous_tag="v1", seconds=5.25)
    fleet = FleetResult("deploy", "v2", [HostRun(SshTarget("a"), "canary", done),
                                         HostRun(SshTarget("b"), "next")])
    assert fleet_rows(fleet)[1:] == [("deploy@a:22", "canary", "success", "v1 -> v2", "5.2s"),
                                     ("deploy@b:22", "next", "skipped", "untouched", "-")]
    assert Origin("x").describe() == "x"
