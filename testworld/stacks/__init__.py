"""Compose stack templates in the article's shape, rendered by `render_stack`.

Each kind is a folder with `compose.yaml` and the proxy's config (`Caddyfile` or
`haproxy.cfg`); `{{name}}` placeholders are replaced (compose's own `${VAR}` syntax stays
untouched). The config is baked into a proxy image per (kind, app), pushed to the plain
registry: never bind-mounted, since in real use the remote host is not the machine where
compose runs.
"""

from __future__ import annotations

from pathlib import Path

from .. import images

STACKS_DIR = Path(__file__).resolve().parent
# kind -> base image of its proxy
KINDS = {"article": images.CADDY_CURL, "nested": images.CADDY_BUSYBOX,
         "haproxy": images.HAPROXY_OFFICIAL}


def fill(template: str, **values) -> str:
    for key, value in values.items():
        template = template.replace("{{" + key + "}}", str(value))
    if "{{" in template:
        raise ValueError(f"unfilled placeholder in template: {template[template.index('{{'):][:40]}")
    return template


def proxy_repo(kind: str, app: str) -> str:
    return f"{kind}-{app}-proxy"


def render(kind: str, dest_dir, app: str = "zdd", port: int = 18080, tag: str = "v1",
           boot_delay: float = 3, registry: str = "127.0.0.1:5000") -> Path:
    """Write <dest_dir>/compose.yaml, build/push its proxy image; return the compose path."""
    if kind not in KINDS:
        raise ValueError(f"unknown stack kind {kind!r}; known: {', '.join(KINDS)}")
    src = STACKS_DIR / kind
    config_name = next(n for n in images.PROXY_DOCKERFILES if (src / n).exists())
    config = fill((src / config_name).read_text(), app=app)
    proxy_image = images.build_proxy_image(KINDS[kind], config, registry, proxy_repo(kind, app),
                                           config_name)
    compose = fill((src / "compose.yaml").read_text(), app=app, port=port, tag=tag,
                   boot_delay=f"{boot_delay:g}", proxy_image=proxy_image)
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / "compose.yaml"
    path.write_text(compose)
    return path
