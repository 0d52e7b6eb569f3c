import json
from pathlib import Path

import pytest

from bluegreen_action.caddy_router import CaddyRouter, parse_caddy_version
from bluegreen_action.colors import Color
from bluegreen_action.errors import ProxyError
from bluegreen_action.router import AppTopology
from bluegreen_action.waits import wait_until_drained

from .fakes import FakeCaddyAdmin, FakeClock

FIX = Path(__file__).parent / "fixtures" / "caddy"
B, G = Color.BLUE, Color.GREEN


def topology(app):
    return AppTopology(app, {B: frozenset({f"{app}-blue"}), G: frozenset({f"{app}-green"})},
                       {B: f"{app}-blue", G: f"{app}-green"})


def router_for(fixture, app, **kw):
    admin = FakeCaddyAdmin(json.loads((FIX / f"{fixture}.json").read_text()), **kw)
    clock = FakeClock()
    r = CaddyRouter(admin.client(), [topology(app)], clock, version=(2, 11, 7))
    r.load()
    return r, admin, clock


def test_route_to_changes_the_nested_handler_and_reads_it_back():
    r, admin, _ = router_for("nested", "web")
    assert r.routed() == {"web": {B, G}}
    r.route_to({G})
    assert r.routed() == {"web": {G}} and admin.writes == 1
    r.route_to({G})                      # already so: no reload
    assert admin.writes == 1
    r.route_to({B, G})
    assert admin.config == admin.boot_config


def test_a_concurrent_change_is_not_overwritten():
    r, admin, _ = router_for("article", "zerodowndeploy")
    # another writer changes the config between our read and our write: 412, re-read, retry
    original = admin.handler

    def racing(request):
        if request.method == "POST" and admin.writes == 0 and "raced" not in admin.config:
            admin.config["raced"] = True
        return original(request)

    admin.handler = racing
    r._admin = admin.client()
    r.route_to({B})
    assert admin.config["raced"] is True and r.routed() == {"zerodowndeploy": {B}}
    assert admin.requests.count("POST /config/apps/http/servers") == 2


def test_a_refused_change_is_an_error_that_leaves_routes_alone():
    r, admin, _ = router_for("article", "zerodowndeploy")
    admin.refuse_next = 400
    with pytest.raises(ProxyError, match="Caddy refused"):
        r.route_to({G})
    assert r.routed() == {"zerodowndeploy": {B, G}}


def test_an_app_caddy_does_not_proxy_is_named_with_the_fix():
    admin = FakeCaddyAdmin(json.loads((FIX / "article.json").read_text()))
    r = CaddyRouter(admin.client(), [topology("shop")], FakeClock())
    with pytest.raises(ProxyError, match="no reverse_proxy to shop-blue") as e:
        r.load()
    assert "zerodowndeploy-blue:8000" in e.value.evidence and "reverse_proxy shop-blue" in e.value.hint


def test_changes_are_spaced_so_reloads_do_not_pile_up():
    r, admin, clock = router_for("article", "zerodowndeploy")
    r.route_to({G})
    clock.t += 0.5
    r.route_to({B})
    assert clock.sleeps and abs(clock.sleeps[-1] - 1.5) < 1e-9


def test_routes_lost_in_a_restart_are_applied_again():
    r, admin, _ = router_for("article", "zerodowndeploy")
    r.route_to({G})
    assert r.reapply_if_lost() is False
    admin.restart()
    assert r.routed() == {"zerodowndeploy": {B, G}}
    assert r.reapply_if_lost() is True
    assert r.routed() == {"zerodowndeploy": {G}}


def test_drain_waits_for_in_flight_requests_to_the_colour():
    r, admin, clock = router_for("article", "zerodowndeploy",
                                 in_flight={"zerodowndeploy-blue:8000": 2})
    calls = []

    def finish_later(seconds):
        calls.append(seconds)
        clock.t += seconds
        if len(calls) == 5:
            admin.in_flight["zerodowndeploy-blue:8000"] = 0

    clock.sleep = finish_later
    waited = wait_until_drained(r, B, timeout=30, clock=clock)
    # five polls while requests are open, then one quick second read to confirm the zero
    assert len(calls) == 6 and calls[-1] == 0.05 and waited == pytest.approx(sum(calls))


def test_drain_gives_up_at_the_timeout_with_a_warning():
    r, admin, clock = router_for("article", "zerodowndeploy",
                                 in_flight={"zerodowndeploy-green:8000": 1})
    warnings = []
    wait_until_drained(r, G, timeout=3, clock=clock, warn=warnings.append)
    assert clock.t - 1000 >= 3 and "still in flight to green" in warnings[0]


def test_old_caddy_cannot_count_removed_upstreams_so_a_bounded_delay_is_used():
    r, _, clock = router_for("article", "zerodowndeploy")
    r.version = (2, 8, 4)
    assert not r.observes_in_flight
    wait_until_drained(r, B, timeout=30, clock=clock)
    assert clock.sleeps == [2.0]


def test_parse_caddy_version():
    assert parse_caddy_version("v2.11.7 h1:yj0Y4fYZ=") == (2, 11, 7)
    assert parse_caddy_version("garbage") is None


# -- flag-file routing: the shell commands run in a real sh, in a temporary folder --------

def real_shell(tmp_path):
    import subprocess

    from bluegreen_action.caddy_config import FLAG_DIR

    def run(argv):
        assert argv[:2] == ["sh", "-c"], argv
        p = subprocess.run(["sh", "-c", argv[2].replace(FLAG_DIR, str(tmp_path / "flags"))],
                           capture_output=True)
        return p.returncode, p.stdout, p.stderr
    return run


def flag_router(tmp_path, fixture="nested", app="web"):
    admin = FakeCaddyAdmin(json.loads((FIX / f"{fixture}.json").read_text()))
    r = CaddyRouter(admin.client(), [topology(app)], FakeClock(), version=(2, 11, 7),
                    run=real_shell(tmp_path))
    r.load()
    return r, admin


def test_flags_switch_with_one_install_and_no_reload_after(tmp_path):
    r, admin = flag_router(tmp_path)
    assert r.routed() == {"web": {B, G}}
    r.route_to({G})
    assert admin.writes == 1 and sorted(p.name for p in (tmp_path / "flags").iterdir()) == [
        "web.only-green"]
    r.route_to({B})
    assert [p.name for p in (tmp_path / "flags").iterdir()] == ["web.only-blue"]
    r.route_to({B, G})
    assert list((tmp_path / "flags").iterdir()) == []
    assert admin.writes == 1          # every switch after the install: files only, no reload
    assert r.routed() == {"web": {B, G}}


def test_installed_routes_keep_the_handler_and_route_by_the_files(tmp_path):
    from bluegreen_action.caddy_config import find_upstream_handlers, has_flag_routing
    r, admin = flag_router(tmp_path)
    r.route_to({G})
    assert has_flag_routing(admin.config, "web")
    handlers = find_upstream_handlers(admin.config, "web", {B: {"web-blue"}, G: {"web-green"}})
    assert sorted(sorted(c.value for c in h.colors) for h in handlers) == [
        ["blue"], ["blue", "green"], ["green"]]
    # lb_try_duration and friends survive in every copy
    blob = json.dumps(admin.config)
    assert blob.count('"try_duration": 5000000000') == 3


def test_a_caddy_restart_loses_the_routes_and_they_come_back(tmp_path):
    r, admin = flag_router(tmp_path)
    r.route_to({G})
    admin.restart()                   # back on the Caddyfile: routes to both, flags still there
    assert r.reapply_if_lost() is True
    assert admin.writes == 2 and r.routed() == {"web": {G}}
    assert r.reapply_if_lost() is False


def test_without_a_writable_flag_folder_the_admin_api_switches(tmp_path):
    r, admin = flag_router(tmp_path)
    (tmp_path / "flags").write_text("not a folder")       # mkdir -p fails
    r.route_to({G})
    assert r.routed() == {"web": {G}} and admin.writes == 1
    r.route_to({B, G})
    assert admin.writes == 2 and admin.config == admin.boot_config


def test_flag_routes_written_in_the_caddyfile_need_no_install_at_all(tmp_path):
    # tests/unit/fixtures/caddy/flags.Caddyfile: the README's recommended Caddyfile
    r, admin = flag_router(tmp_path, fixture="flags", app="shop")
    r.route_to({G})
    r.route_to({B})
    r.route_to({B, G})
    assert admin.writes == 0


def test_flag_routes_are_not_mistaken_for_another_apps():
    from bluegreen_action.caddy_config import has_flag_routing
    config = json.loads((FIX / "flags.json").read_text())
    assert has_flag_routing(config, "shop") and not has_flag_routing(config, "web")


def test_an_app_added_later_gets_its_routes_without_wrapping_the_first_again(tmp_path):
    admin = FakeCaddyAdmin(json.loads((FIX / "two-apps.json").read_text()))
    first = CaddyRouter(admin.client(), [topology("web")], FakeClock(), run=real_shell(tmp_path))
    first.load()
    first.route_to({G})
    installed = json.dumps(admin.config).count('"handler": "subroute"')
    both = CaddyRouter(admin.client(), [topology("web"), topology("api")], FakeClock(),
                       run=real_shell(tmp_path))
    both.load()
    both.route_to({B})
    assert both.routed() == {"web": {B}, "api": {B}} and admin.writes == 2
    # api's one handler became one subroute; web's were not wrapped a second time
    assert json.dumps(admin.config).count('"handler": "subroute"') == installed + 1
