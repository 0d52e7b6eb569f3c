"""`bluegreen`: the terminal front door. Only this module and entrypoint.py read argv
and the environment."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import __version__
from .engine import Deployment, DeployOptions, default_env
from .errors import BluegreenError, InputError
from .report import Reporter
from .ssh import SshTarget


def parse_services(text: str) -> tuple[str, ...]:
    apps = tuple(s for s in text.replace(",", " ").split() if s)
    if not apps:
        raise InputError("no service given", hint="--services app (the compose services "
                                                   "app-blue and app-green)")
    return apps


def parse_seconds(name: str, text: str) -> float:
    try:
        value = float(text.rstrip("s"))
    except ValueError:
        value = -1
    if value <= 0:
        raise InputError(f"{name} must be a positive number of seconds, not {text!r}",
                         hint=f"e.g. {name} 60")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bluegreen", description="Zero-downtime blue-green deploys "
                                "of Docker Compose apps behind Caddy or HAProxy, over SSH.")
    p.add_argument("--version", action="version", version=f"bluegreen {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("deploy", help="deploy a tag: replace blue, then green, with no downtime")
    d.add_argument("--host", required=True, help="the server's address")
    d.add_argument("--port", default="22", help="SSH port (default 22)")
    d.add_argument("--user", default="deploy", help="SSH user in the server's docker group")
    d.add_argument("--ssh-key", type=Path, help="private key file (default: ssh's own keys and agent)")
    d.add_argument("--known-hosts", type=Path,
                   help="known_hosts file holding the server's key (default: ssh's own)")
    d.add_argument("--tag", required=True, help="the image tag to deploy, e.g. v1.2.3")
    d.add_argument("--services", required=True,
                   help="app names, comma separated; `app` means services app-blue and app-green")
    d.add_argument("--compose-file", type=Path, default=Path("compose.yaml"))
    d.add_argument("--project-name", help="compose project (default: the file's `name:`, else "
                   "the repository's, else the compose file's folder name)")
    d.add_argument("--repo-name", help="the repository's name (the Action passes it)")
    d.add_argument("--proxy-service", help="the Caddy/HAProxy service (found when there is one)")
    d.add_argument("--proxy-kind", choices=["caddy", "haproxy"], help="default: detected")
    d.add_argument("--health-timeout", default="120", help="seconds a colour may take to become healthy")
    d.add_argument("--drain-timeout", default="30", help="seconds in-flight requests may take to finish")
    d.add_argument("--health-path", default="/", help="path probed from the proxy (default /)")
    d.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    d.add_argument("-v", "--verbose", action="store_true", help="show every command")
    return p


def options_from_args(a: argparse.Namespace, env: dict[str, str]) -> DeployOptions:
    try:
        port = int(a.port)
        assert 0 < port < 65536
    except (ValueError, AssertionError):
        raise InputError(f"--port must be a TCP port number, not {a.port!r}", hint="e.g. --port 22") from None
    for flag, path in (("--ssh-key", a.ssh_key), ("--known-hosts", a.known_hosts)):
        if path is not None and not path.is_file():
            raise InputError(f"{flag} {path}: no such file", hint=f"give {flag} an existing file")
    if not a.health_path.startswith("/"):
        raise InputError(f"--health-path must start with '/', not {a.health_path!r}")
    return DeployOptions(
        target=SshTarget(a.host, port, a.user, a.ssh_key.resolve() if a.ssh_key else None,
                         a.known_hosts.resolve() if a.known_hosts else None),
        compose_file=a.compose_file, apps=parse_services(a.services), tag=a.tag,
        project_name=a.project_name, repo_name=a.repo_name, proxy_service=a.proxy_service,
        proxy_kind=a.proxy_kind,
        health_timeout=parse_seconds("--health-timeout", a.health_timeout),
        drain_timeout=parse_seconds("--drain-timeout", a.drain_timeout),
        health_path=a.health_path, dry_run=a.dry_run, env=env)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    reporter = Reporter(verbose=getattr(args, "verbose", False))
    try:
        opts = options_from_args(args, default_env())
    except BluegreenError as e:
        reporter.error(e)
        return e.exit_code
    result = Deployment(opts, reporter).run()
    if result.error:
        return result.error.exit_code
    reporter.info(f"{result.result}: {result.project} on {result.host} now runs "
                  f"{opts.tag} (was {result.previous_tag or 'nothing'}) in {result.seconds:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
