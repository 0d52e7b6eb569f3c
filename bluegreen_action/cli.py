"""`bluegreen`: the terminal front door. Only this module and entrypoint.py read argv
and the environment."""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

from . import __version__, cancel
from .cancel import Cancelled
from .compose_file import ComposeFile
from .credentials import Credentials
from .engine import DeployOptions, default_env
from .errors import BluegreenError, InputError, LockError
from .fleet import deploy_fleet
from .fleet_cli import (
    add_commands,
    add_host_args,
    add_stack_args,
    front_door_origin,
    history_command,
    print_fleet,
    rollback_command,
    status_command,
    targets_from_args,
)
from .lock import DeployLock
from .plan import split_command
from .remote_docker import RemoteDocker
from .report import Reporter
from .ssh import SshSession, SshTarget


def parse_services(text: str) -> tuple[str, ...]:
    apps = tuple(s for s in text.replace(",", " ").split() if s)
    if not apps:
        raise InputError("no service given", hint="--services app (the compose services "
                                                   "app-blue and app-green)")
    return apps


def parse_seconds(name: str, text: str, allow_zero: bool = False) -> float:
    try:
        value = float(text.rstrip("s"))
    except ValueError:
        value = -1
    if value < 0 or value == 0 and not allow_zero:
        raise InputError(f"{name} must be a {'' if allow_zero else 'positive '}number of seconds, "
                         f"not {text!r}", hint=f"e.g. {name} 60")
    return value


def _connection_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", required=True, help="the server's address")
    p.add_argument("--port", default="22", help="SSH port (default 22)")
    p.add_argument("--user", default="deploy", help="SSH user in the server's docker group")
    p.add_argument("--ssh-key", type=Path, help="private key file (default: ssh's own keys and agent)")
    p.add_argument("--known-hosts", type=Path,
                   help="known_hosts file holding the server's key (default: ssh's own)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bluegreen", description="Zero-downtime blue-green deploys "
                                "of Docker Compose apps behind Caddy or HAProxy, over SSH.")
    p.add_argument("--version", action="version", version=f"bluegreen {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("deploy", help="deploy a tag: replace blue, then green, with no downtime")
    add_host_args(d)
    d.add_argument("--tag", required=True, help="the image tag to deploy, e.g. v1.2.3")
    add_stack_args(d)
    d.add_argument("--health-timeout", default="120", help="seconds a colour may take to become healthy")
    d.add_argument("--drain-timeout", default="30", help="seconds in-flight requests may take to finish")
    d.add_argument("--health-path", default="/", help="path probed from the proxy (default /)")
    d.add_argument("--strategy", choices=["rolling", "blue-green"], default="rolling",
                   help="rolling (default): both colours serve, replaced one after the other; "
                        "blue-green: boot only the idle colour, switch once, keep the previous "
                        "version idle for `bluegreen rollback`")
    d.add_argument("--keep-images", default="3", metavar="N",
                   help="keep the images of the last N deployed tags on each host, remove older "
                        "ones of the app's repositories (never one a container uses); 0: keep all")
    d.add_argument("--pre-deploy", metavar="COMMAND",
                   help="run COMMAND (e.g. './manage.py migrate') once in a one-off container "
                        "of the app's new image before any traffic moves; if it fails, the "
                        "deploy stops with nothing switched")
    d.add_argument("--pre-deploy-timeout", default="600",
                   help="seconds the --pre-deploy command may take (default 600)")
    d.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    d.add_argument("--lock-timeout", default="300", help="seconds to wait while another deploy "
                   "of the project holds the server's lock (0: fail at once; default 300)")
    d.add_argument("--break-lock", action="store_true",
                   help="remove the project's deploy lock on the server first (see `lock`)")
    d.add_argument("--registry", help="log in to this registry first, e.g. ghcr.io")
    d.add_argument("--registry-username", help="the registry user (with --registry)")
    d.add_argument("--registry-password-stdin", action="store_true",
                   help="read the registry password (or token) from stdin (with --registry)")
    d.add_argument("-v", "--verbose", action="store_true", help="show every command")
    k = sub.add_parser("lock", help="show or break the server's deploy lock of a project",
                       description="status: who holds the lock (exit 0 when free, 5 when held); "
                       "release: remove it whoever holds it (a lock left by a killed deploy is "
                       "also noticed and broken by the next deploy when its process is gone).")
    k.add_argument("action", choices=["status", "release"])
    _connection_args(k)
    k.add_argument("--project-name", help="compose project (default: from --compose-file)")
    k.add_argument("--compose-file", type=Path, default=Path("compose.yaml"))
    k.add_argument("--repo-name", help="the repository's name, for the default project name")
    add_commands(sub)     # rollback, status, history (fleet_cli.py)
    return p


def target_from_args(a: argparse.Namespace) -> SshTarget:
    try:
        port = int(a.port)
        assert 0 < port < 65536
    except (ValueError, AssertionError):
        raise InputError(f"--port must be a TCP port number, not {a.port!r}", hint="e.g. --port 22") from None
    for flag, path in (("--ssh-key", a.ssh_key), ("--known-hosts", a.known_hosts)):
        if path is not None and not path.is_file():
            raise InputError(f"{flag} {path}: no such file", hint=f"give {flag} an existing file")
    return SshTarget(a.host, port, a.user, a.ssh_key.resolve() if a.ssh_key else None,
                     a.known_hosts.resolve() if a.known_hosts else None)


def options_from_args(a: argparse.Namespace, env: dict[str, str]) -> DeployOptions:
    target = targets_from_args(a)[0]      # deploy_command runs it on every host
    if not a.health_path.startswith("/"):
        raise InputError(f"--health-path must start with '/', not {a.health_path!r}")
    if a.registry and not (a.registry_username and a.registry_password_stdin):
        raise InputError("--registry needs --registry-username and --registry-password-stdin",
                         hint="echo \"$TOKEN\" | bluegreen deploy --registry ghcr.io "
                              "--registry-username USER --registry-password-stdin ...")
    if (a.registry_username or a.registry_password_stdin) and not a.registry:
        raise InputError("--registry-username and --registry-password-stdin need --registry",
                         hint="name the registry to log in to, e.g. --registry ghcr.io")
    try:
        pre_deploy = split_command(a.pre_deploy or "")
    except ValueError as e:
        raise InputError(f"--pre-deploy: cannot split {a.pre_deploy!r} into words: {e}",
                         hint="quote it as for a shell, e.g. --pre-deploy \"sh -c 'a && b'\"") from None
    return DeployOptions(
        target=target,
        compose_file=a.compose_file, apps=parse_services(a.services), tag=a.tag,
        project_name=a.project_name, repo_name=a.repo_name, proxy_service=a.proxy_service,
        proxy_kind=a.proxy_kind,
        health_timeout=parse_seconds("--health-timeout", a.health_timeout),
        drain_timeout=parse_seconds("--drain-timeout", a.drain_timeout),
        health_path=a.health_path, dry_run=a.dry_run,
        lock_timeout=parse_seconds("--lock-timeout", a.lock_timeout, allow_zero=True),
        break_lock=a.break_lock, strategy=a.strategy, pre_deploy=pre_deploy,
        pre_deploy_timeout=parse_seconds("--pre-deploy-timeout", a.pre_deploy_timeout), env=env)


def keep_images(text: str) -> int:
    if not text.isdigit():
        raise InputError(f"--keep-images must be a whole number, not {text!r}",
                         hint="e.g. --keep-images 3 (0 keeps every image)")
    return int(text)


def main(argv: list[str] | None = None, signals: bool = True) -> int:
    """`signals`: SIGTERM/SIGINT/SIGHUP cancel the deploy in order (lock given back, traffic
    left on healthy colours, temporary files removed), exit 128+signal."""
    if signals:
        cancel.install()
    args = build_parser().parse_args(argv)
    reporter = Reporter(verbose=getattr(args, "verbose", False))
    try:
        if args.command == "lock":
            return lock_command(args, reporter)
        if args.command == "rollback":
            return rollback_command(args, reporter)
        if args.command == "status":
            return status_command(args, reporter)
        if args.command == "history":
            return history_command(args, reporter)
        return deploy_command(args, reporter)
    except BluegreenError as e:
        reporter.error(e)
        return e.exit_code
    except Cancelled as c:
        reporter.error(BluegreenError(
            f"cancelled ({c.name})", hint="the deploy lock was given back; run the deploy again "
            "to finish it (traffic stays on healthy containers meanwhile)"))
        return c.exit_code


def deploy_command(args: argparse.Namespace, reporter: Reporter) -> int:
    env = default_env()
    opts = options_from_args(args, env)
    hosts = targets_from_args(args)
    keep = keep_images(args.keep_images)
    with Credentials() as creds:     # a registry login lives in a private DOCKER_CONFIG
        if args.registry:
            password = sys.stdin.readline().rstrip("\r\n")
            if not password:
                raise InputError("--registry-password-stdin: stdin holds no password",
                                 hint="pipe the password or token in: "
                                      "`echo \"$TOKEN\" | bluegreen deploy ...`")
            with reporter.phase(f"Log in to {args.registry}"):
                env.update(creds.docker_login(args.registry, args.registry_username, password, env))
                reporter.info(f"logged in as {args.registry_username} (credentials in a "
                              "temporary DOCKER_CONFIG)")
            opts = dataclasses.replace(opts, env=env)
        fleet = deploy_fleet(opts, hosts, reporter, front_door_origin(env), keep)
    if len(fleet.runs) > 1:
        print_fleet(fleet, reporter)
    if fleet.error:
        return fleet.error.exit_code
    for run in fleet.runs:
        result = run.result
        was = result.previous_tag or "nothing"
        if result.result == "dry-run":
            reporter.info(f"dry run: {result.project} on {result.host} would go from {was} to "
                          f"{opts.tag}; nothing was changed")
        else:
            reporter.info(f"{result.result}: {result.project} on {result.host} now runs "
                          f"{opts.tag} (was {was}) in {result.seconds:.1f}s")
    return 0


def lock_command(args: argparse.Namespace, reporter: Reporter) -> int:
    target = target_from_args(args)
    project = args.project_name or ComposeFile.load(args.compose_file).project_name(args.repo_name)
    with SshSession(target) as ssh:
        ssh.open()
        docker = RemoteDocker(ssh, project, Path.cwd(), default_env())
        try:
            docker.check_access()
            lock = DeployLock(docker.client, ssh, project, log=reporter.info,
                              warn=reporter.warning)
            holder = lock.holder()
            where = f"{lock.name} on {target.display}"
            if holder is None:
                reporter.info(f"{where}: free" + (", nothing to release"
                                                  if args.action == "release" else ""))
                return 0
            state, why = lock.liveness(holder)
            if args.action == "status":
                reporter.info(f"{where}: held by {holder.describe()}")
                reporter.info(f"the holder is {state}: {why}")
                return LockError.exit_code
            lock.break_(f"`bluegreen lock release` by {os.environ.get('USER') or 'a user'}")
            reporter.info(f"{where}: released (the holder was {state}: {why})")
            return 0
        finally:
            docker.close()


if __name__ == "__main__":
    sys.exit(main())
