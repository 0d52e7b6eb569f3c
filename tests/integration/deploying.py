"""Helpers for integration tests that drive real deploys on the test world."""
from __future__ import annotations

import io
import itertools
from contextlib import redirect_stdout
from pathlib import Path

from bluegreen_action import cli
from bluegreen_action.engine import Deployment, DeployOptions, DeployResult, default_env
from bluegreen_action.report import Reporter
from bluegreen_action.ssh import SshTarget

_ports = itertools.count(18200)
_haproxy_ports = itertools.count(18300)     # the HAProxy tests' own range


def next_port(kind: str = "") -> int:
    return next(_haproxy_ports if kind.startswith("haproxy") else _ports)


def run_cli(world, *args: str, known_hosts: Path | None = None) -> tuple[int, str]:
    """`bluegreen ARGS` in this process with the world's client key; (exit code, output)."""
    common = ["--ssh-key", str(world.client_key),
              "--known-hosts", str(known_hosts or world.known_hosts)]
    out = io.StringIO()
    with redirect_stdout(out):
        code = cli.main([*args, *common], signals=False)
    print(out.getvalue())
    return code, out.getvalue()


def deploy(world, compose_file: Path, tag: str, project: str, apps=("zdd",), **kw) -> DeployResult:
    """A deploy through the engine, as the CLI runs it; its log is kept on the result."""
    opts = DeployOptions(
        target=SshTarget(world.host, world.port, kw.pop("user", world.user), world.client_key,
                         world.known_hosts),
        compose_file=compose_file, apps=tuple(apps), tag=tag, project_name=project,
        env=default_env(), **kw)
    out = io.StringIO()
    result = Deployment(opts, Reporter(stream=out, verbose=True)).run()
    result.log = out.getvalue()
    print(result.log)
    return result


def versions_served(world, project: str, compose_file: Path) -> dict[str, str]:
    """service -> image of each running container of the project."""
    p = world.docker("ps", "--filter", f"label=com.docker.compose.project={project}",
                     "--format", '{{.Label "com.docker.compose.service"}} {{.Image}}')
    return dict(line.split(" ", 1) for line in p.stdout.strip().splitlines())


def assert_only_reload_closures(load, connections: int, reloads: int = 1):
    """A Caddy admin change is a reload that closes idle keep-alive client connections; a
    client that never retries loses the next request on each (hey retries them). Nothing
    else may fail: no 502 from a stopped colour, no timeout."""
    assert all(k.startswith(("RemoteDisconnected", "ConnectionResetError", "BrokenPipeError"))
               for k in load["failure_kinds"]), load["failure_kinds"]
    assert load["failed"] <= reloads * connections, load["failure_kinds"]
