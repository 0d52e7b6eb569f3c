"""Relative bind mounts are paths on the server, not in the checkout: found in both compose
syntaxes, and warned about (with the line) before anything touches the server."""
import io
import textwrap

from bluegreen_action.compose_file import ComposeFile
from bluegreen_action.engine import Deployment, DeployOptions
from bluegreen_action.report import Reporter
from bluegreen_action.ssh import SshTarget

COMPOSE = textwrap.dedent("""\
    services:
      web-blue: &web
        image: r/web:v1
        volumes:
          - ./static:/srv/static:ro
          - uploads:/srv/uploads
          - /var/log/web:/logs
      web-green:
        <<: *web
      caddy:
        image: caddy:2
        volumes:
          - type: bind
            source: ../conf/Caddyfile
            target: /etc/caddy/Caddyfile
          - type: volume
            source: ./not-a-bind
            target: /data
          - caddy_data:/data
    volumes: {uploads: {}, caddy_data: {}}
    """)


def test_relative_sources_are_found_in_short_and_long_syntax(tmp_path):
    compose = ComposeFile(tmp_path / "compose.yaml", COMPOSE)
    assert compose.relative_bind_mounts("web-blue") == ["./static"]
    assert compose.relative_bind_mounts("web-green") == ["./static"]     # through the merge key
    assert compose.relative_bind_mounts("caddy") == ["../conf/Caddyfile"]
    assert compose.relative_bind_mounts("missing") == []


def test_the_deploy_warns_at_the_service_line_before_connecting(tmp_path):
    path = tmp_path / "deploy" / "compose.yaml"
    path.parent.mkdir()
    path.write_text(COMPOSE)
    out = io.StringIO()
    d = Deployment(DeployOptions(target=SshTarget("server"), compose_file=path, apps=("web",),
                                 tag="v2"), Reporter(stream=out))
    d._prepare()
    warnings = [ln for ln in out.getvalue().splitlines() if "bind-mounts" in ln]
    assert len(warnings) == 3, out.getvalue()
    assert f"web-blue bind-mounts `./static`, a path on the server: its Docker Engine mounts " \
           f"{path.parent}/static from its own disk" in warnings[0]
    assert warnings[0].endswith(f"({path}:2)")
    assert f"{tmp_path}/conf/Caddyfile" in warnings[2] and warnings[2].endswith(f"({path}:10)")
