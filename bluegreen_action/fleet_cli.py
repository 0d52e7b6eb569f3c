"""The terminal front door's commands for several hosts: the host options every command
shares (`--host` repeated or `--hosts a,b:2222`), and `rollback`, `status`, `history`.
cli.py wires them in; only the front doors read argv and the environment."""
from __future__ import annotations

import argparse
import getpass
import json
import socket
from dataclasses import asdict, replace
from pathlib import Path

from .compose_file import ComposeFile
from .engine import default_env
from .errors import BluegreenError, InputError
from .fleet import FleetResult, HostRun, parse_hosts, rollback_fleet, targets
from .history import HistoryStore, Origin, format_table, origin_from_env
from .remote_docker import RemoteDocker
from .report import Reporter
from .rollback import HostCommandOptions
from .ssh import SshSession, SshTarget
from .status import format_status, read_status, status_json

SECONDS_HELP = "seconds"


def add_host_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", action="append", default=[], metavar="HOST[:PORT]",
                   help="a server; repeat for several (the first is the canary)")
    p.add_argument("--hosts", metavar="A,B:PORT,...",
                   help="several servers, comma separated ([user@]host[:port]), deployed one "
                        "after the other, the first as a canary")
    p.add_argument("--port", default="22", help="SSH port of hosts given without one (default 22)")
    p.add_argument("--user", default="deploy", help="SSH user in the servers' docker group")
    p.add_argument("--ssh-key", type=Path, help="private key file (default: ssh's own keys and agent)")
    p.add_argument("--known-hosts", type=Path,
                   help="known_hosts file holding the servers' keys (default: ssh's own)")


def targets_from_args(a: argparse.Namespace) -> list[SshTarget]:
    try:
        port = int(a.port)
        assert 0 < port < 65536
    except (ValueError, AssertionError):
        raise InputError(f"--port must be a TCP port number, not {a.port!r}",
                         hint="e.g. --port 22") from None
    for flag, path in (("--ssh-key", a.ssh_key), ("--known-hosts", a.known_hosts)):
        if path is not None and not path.is_file():
            raise InputError(f"{flag} {path}: no such file", hint=f"give {flag} an existing file")
    given = list(a.host or []) + ([a.hosts] if a.hosts else [])
    if not given:
        raise InputError("no server given", hint="--host HOST, or --hosts A,B:2222 for several")
    template = SshTarget("", port, a.user, a.ssh_key.resolve() if a.ssh_key else None,
                         a.known_hosts.resolve() if a.known_hosts else None)
    return targets(parse_hosts(given, default_port=port, default_user=a.user), template)


def front_door_origin(env) -> Origin:
    if not (env.get("USER") or env.get("LOGNAME")):
        try:
            env = {**env, "USER": getpass.getuser()}
        except (KeyError, OSError):
            pass
    return origin_from_env(env, machine=socket.gethostname())


def add_commands(sub) -> None:
    r = sub.add_parser(
        "rollback", help="switch traffic back to the idle colour (the previous version)",
        description="With the blue-green strategy the previous version keeps running in the "
                    "idle colour: switch the proxy back to it, in one change, with no container "
                    "started. Prints which tag serves now. Run it again to switch forward.")
    add_host_args(r)
    add_stack_args(r)
    r.add_argument("--health-path", default="/", help="path probed through the proxy before "
                   "the switch (default /)")
    r.add_argument("--lock-timeout", default="60",
                   help="seconds to wait for another deploy's lock (default 60)")
    r.add_argument("--break-lock", action="store_true", help="remove the project's lock first")
    r.add_argument("-v", "--verbose", action="store_true", help="show every command")

    s = sub.add_parser("status", help="colours, tags, health, routes, lock and last deploy, per host")
    add_host_args(s)
    add_stack_args(s)
    s.add_argument("--health-path", default="/", help="path probed through the proxy (default /)")
    s.add_argument("--json", action="store_true", help="JSON instead of text")

    h = sub.add_parser("history", help="the deploy history kept on each host")
    add_host_args(h)
    h.add_argument("--compose-file", type=Path, default=Path("compose.yaml"))
    h.add_argument("--project-name", help="compose project (default: from --compose-file)")
    h.add_argument("--repo-name", help="the repository's name, for the default project name")
    h.add_argument("--services", help="accepted, as the other commands take it; not needed")
    h.add_argument("--limit", type=int, default=20, help="entries per host (default 20)")
    h.add_argument("--json", action="store_true", help="JSON lines instead of a table")


def add_stack_args(p: argparse.ArgumentParser) -> None:
    """The options that say which stack: the same for deploy, rollback and status."""
    p.add_argument("--services", required=True,
                   help="app names, comma separated; `app` means services app-blue and app-green")
    p.add_argument("--compose-file", type=Path, default=Path("compose.yaml"))
    p.add_argument("--project-name", help="compose project (default: the file's `name:`, else "
                   "the repository's, else the compose file's folder name)")
    p.add_argument("--repo-name", help="the repository's name (the Action passes it)")
    p.add_argument("--proxy-service", help="the Caddy/HAProxy service (found when there is one)")
    p.add_argument("--proxy-kind", choices=["caddy", "haproxy"], help="default: detected")


def host_command_options(a: argparse.Namespace, env: dict[str, str],
                         target: SshTarget) -> HostCommandOptions:
    from .cli import parse_seconds, parse_services
    if not getattr(a, "health_path", "/").startswith("/"):
        raise InputError(f"--health-path must start with '/', not {a.health_path!r}")
    return HostCommandOptions(
        target=target, compose_file=a.compose_file, apps=parse_services(a.services),
        project_name=a.project_name, repo_name=a.repo_name, proxy_service=a.proxy_service,
        proxy_kind=a.proxy_kind, health_path=getattr(a, "health_path", "/"),
        lock_timeout=parse_seconds("--lock-timeout", getattr(a, "lock_timeout", "60"),
                                   allow_zero=True),
        break_lock=getattr(a, "break_lock", False), env=env, origin=front_door_origin(env))


def rollback_command(a: argparse.Namespace, reporter: Reporter) -> int:
    env = default_env()
    hosts = targets_from_args(a)
    opts = host_command_options(a, env, hosts[0])
    fleet = rollback_fleet(opts, hosts, reporter)
    print_fleet(fleet, reporter)
    return fleet.error.exit_code if fleet.error else 0


def status_command(a: argparse.Namespace, reporter: Reporter) -> int:
    env = default_env()
    hosts = targets_from_args(a)
    opts = host_command_options(a, env, hosts[0])
    statuses = [read_status(replace(opts, target=t), reporter) for t in hosts]
    reporter.stream.write(status_json(statuses) + "\n" if a.json else format_status(statuses))
    reporter.stream.flush()
    return 3 if any(s.error for s in statuses) else 0


def history_command(a: argparse.Namespace, reporter: Reporter) -> int:
    hosts = targets_from_args(a)
    project = a.project_name or ComposeFile.load(a.compose_file).project_name(a.repo_name)
    code = 0
    out = reporter.stream
    for t in hosts:
        try:
            with SshSession(t, env=default_env()) as ssh:
                ssh.open()
                docker = RemoteDocker(ssh, project, Path.cwd(), default_env())
                try:
                    entries = HistoryStore(docker.client, project).read()
                finally:
                    docker.close()
        except BluegreenError as e:
            out.write(f"{t.display}  project {project}\n  error: {e.message}\n\n")
            code = e.exit_code
            continue
        if a.json:
            for e in list(reversed(entries))[:a.limit]:
                out.write(json.dumps({"host": t.display, **asdict(e)}) + "\n")
            continue
        out.write(f"{t.display}  project {project}\n")
        body = format_table(entries, a.limit) if entries else "(no deploy recorded)"
        out.write("".join(f"  {line}\n" for line in body.splitlines()) + "\n")
    out.flush()
    return code


def fleet_rows(fleet: FleetResult) -> list[tuple[str, ...]]:
    rows = [("HOST", "ROLE", "RESULT", "CHANGE", "TOOK")]
    for run in fleet.runs:
        rows.append((run.target.display, run.role, run.status, _change(run),
                     f"{run.result.seconds:.1f}s" if run.result else "-"))
    return rows


def _change(run: HostRun) -> str:
    r = run.result
    if r is None:
        return "untouched"
    return f"{r.previous_tag or '(none)'} -> {r.tag or '?'}"


def print_fleet(fleet: FleetResult, reporter: Reporter) -> None:
    rows = fleet_rows(fleet)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        reporter.info("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    for run in fleet.runs:
        sw = getattr(run.result, "switch_seconds", None)
        if sw is not None:
            reporter.info(f"{run.target.display}: {run.result.tag} serves again "
                          f"({getattr(run.result, 'colour', '')}); switched in {sw:.2f}s")
