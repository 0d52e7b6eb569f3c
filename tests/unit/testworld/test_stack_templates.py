"""Stack templates fill into valid compose files of the expected shape (no Docker needed)."""

import pytest
import yaml

from testworld.stacks import STACKS_DIR, fill


def render(kind, app="shop"):
    text = fill((STACKS_DIR / kind / "compose.yaml").read_text(), app=app, port=18123, tag="v2",
                boot_delay="3", proxy_image=f"127.0.0.1:5000/{kind}-{app}-proxy:latest")
    return text, yaml.safe_load(text)


def test_article_shape():
    text, doc = render("article")
    assert "&app" in text and "<<: *app" in text and "\nname:" not in text
    services = doc["services"]
    assert set(services) == {"shop-blue", "shop-green", "shop-caddy"}
    assert services["shop-green"]["container_name"] == "shop-green"
    assert services["shop-green"]["image"] == "127.0.0.1:5000/sample-app:v2"
    assert services["shop-blue"]["healthcheck"]["start_interval"] == "200ms"
    assert services["shop-caddy"]["ports"] == ["127.0.0.1:18123:8080"]
    assert doc["networks"] == {"shop": {"driver": "bridge"}}
    caddyfile = fill((STACKS_DIR / "article" / "Caddyfile").read_text(), app="shop")
    assert "to shop-blue:8000 shop-green:8000" in caddyfile


def test_nested_shape():
    text, doc = render("nested")
    assert "container_name" not in text and "#" in text and "\nname:" not in text
    assert set(doc["services"]) == {"shop-blue", "shop-green", "proxy"}
    caddyfile = fill((STACKS_DIR / "nested" / "Caddyfile").read_text(), app="shop")
    assert caddyfile.index("encode gzip") < caddyfile.index("reverse_proxy shop-blue:8000")
    assert "lb_try_duration 5s" in caddyfile and "handle /static/*" in caddyfile


def test_unfilled_placeholder_is_an_error():
    with pytest.raises(ValueError):
        fill("image: {{nope}}", app="x")


def test_haproxy_shape():
    text, doc = render("haproxy")
    assert set(doc["services"]) == {"shop-blue", "shop-green", "shop-haproxy"}
    assert doc["services"]["shop-haproxy"]["ports"] == ["127.0.0.1:18123:8080"]
    cfg = fill((STACKS_DIR / "haproxy" / "haproxy.cfg").read_text(), app="shop")
    assert "server blue shop-blue:8000" in cfg and "server green shop-green:8000" in cfg
    assert "stats socket ipv4@127.0.0.1:9999 level admin" in cfg
    assert "nameserver dns 127.0.0.11:53" in cfg and "resolvers docker" in cfg
