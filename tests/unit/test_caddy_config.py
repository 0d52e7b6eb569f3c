import json
from pathlib import Path

import pytest

from bluegreen_action.caddy_config import (
    dial_addresses,
    find_upstream_handlers,
    format_path,
    get_path,
    routed_colors,
    with_upstreams,
)
from bluegreen_action.colors import Color
from bluegreen_action.errors import ProxyError

FIX = Path(__file__).parent / "fixtures" / "caddy"   # real `caddy adapt` outputs (Caddy 2.11.7)
B, G = Color.BLUE, Color.GREEN


def config(name):
    return json.loads((FIX / f"{name}.json").read_text())


def hosts(app):
    return {B: {f"{app}-blue"}, G: {f"{app}-green"}}


def test_article_handler_is_the_positional_path_the_article_hard_codes():
    [h] = find_upstream_handlers(config("article"), "zerodowndeploy", hosts("zerodowndeploy"))
    assert format_path(h.path) == "apps/http/servers/srv0/routes/0/handle/0"
    assert h.colors == {B, G}


def test_nested_handler_is_found_under_host_matcher_and_subroute_after_encode():
    [h] = find_upstream_handlers(config("nested"), "web", hosts("web"))
    assert len(h.path) > 8 and "subroute" == get_path(config("nested"), h.path[:-4])["handler"]
    assert h.dials == ("web-blue:8000", "web-green:8000")


def test_every_handler_of_an_app_is_found_and_other_apps_are_left_alone():
    cfg = config("two-apps")
    web = find_upstream_handlers(cfg, "web", hosts("web"))
    api = find_upstream_handlers(cfg, "api", hosts("api"))
    assert len(web) == 2 and len(api) == 1
    servers = {h.path[3] for h in web}
    assert servers == {"srv0", "srv1"}


def test_switching_changes_only_the_upstreams_and_reads_back():
    cfg = config("two-apps")
    web = find_upstream_handlers(cfg, "web", hosts("web"))
    dials = dial_addresses(web, hosts("web"), {B: "web-blue", G: "web-green"})
    new = with_upstreams(cfg, web, dials, [G])
    assert routed_colors(new, web, hosts("web")) == {G}
    assert routed_colors(cfg, web, hosts("web")) == {B, G}          # the input is not mutated
    api = find_upstream_handlers(new, "api", hosts("api"))
    assert api[0].colors == {B, G}
    # nothing but the upstream lists differ
    back = with_upstreams(new, web, dials, [B, G])
    assert back == cfg


def test_upstream_options_are_kept():
    cfg = config("article")
    [h] = find_upstream_handlers(cfg, "zerodowndeploy", hosts("zerodowndeploy"))
    get_path(cfg, h.path)["upstreams"][0]["max_requests"] = 50
    dials = dial_addresses([h], hosts("zerodowndeploy"), {B: "x", G: "y"})
    new = with_upstreams(cfg, [h], dials, [B])
    assert get_path(new, h.path)["upstreams"] == [{"dial": "zerodowndeploy-blue:8000", "max_requests": 50}]


def test_half_done_config_gets_the_missing_colour_with_the_known_port():
    cfg = config("half-done")
    [h] = find_upstream_handlers(cfg, "zdd", hosts("zdd"))
    assert h.colors == {G}
    dials = dial_addresses([h], hosts("zdd"), {B: "zdd-blue", G: "zdd-green"})
    assert dials == {B: "zdd-blue:8000", G: "zdd-green:8000"}


def test_any_dns_name_of_a_colour_matches():
    cfg = config("article")
    names = {B: {"zerodowndeploy-blue", "app-blue"}, G: {"zerodowndeploy-green", "app-green"}}
    assert find_upstream_handlers(cfg, "app", names)[0].colors == {B, G}


def test_mixed_upstreams_are_refused():
    with pytest.raises(ProxyError, match="mixes web's colours with other upstreams") as e:
        find_upstream_handlers(config("mixed"), "web", hosts("web"))
    assert "legacy:8000" in str(e.value)


def test_an_app_caddy_does_not_proxy_to_is_not_found():
    assert find_upstream_handlers(config("nested"), "shop", hosts("shop")) == []
