"""The Action's side of several hosts and of `command: rollback`: run the fleet, and turn its
result into the Action's outputs (the single-host outputs describe the failing host, else
the canary; `hosts` has a row per host)."""
from __future__ import annotations

import dataclasses
import json
import socket
from collections.abc import Mapping

from .engine import Deployment, DeployOptions, DeployResult
from .fleet import FleetResult, deploy_fleet, rollback_fleet
from .history import origin_from_env
from .report import Reporter
from .rollback import HostCommandOptions
from .ssh import SshTarget


def run_action(command: str, opts: DeployOptions, hosts: list[SshTarget], keep_images: int,
               env: Mapping[str, str], reporter: Reporter,
               watch: list[Deployment] | None = None) -> FleetResult:
    origin = origin_from_env(env, machine=socket.gethostname())
    if command == "rollback":
        o = HostCommandOptions(
            target=opts.target, compose_file=opts.compose_file, apps=opts.apps,
            project_name=opts.project_name, repo_name=opts.repo_name,
            proxy_service=opts.proxy_service, proxy_kind=opts.proxy_kind,
            health_path=opts.health_path, lock_timeout=opts.lock_timeout,
            break_lock=opts.break_lock, env=opts.env, origin=origin)
        return rollback_fleet(o, hosts, reporter)
    return deploy_fleet(opts, hosts, reporter, origin, keep_images, watch=watch)


def outputs_result(fleet: FleetResult, host_display: str) -> DeployResult:
    """One DeployResult for the single-host outputs: the failing host's, else the canary's,
    with the fleet's overall result."""
    run = fleet.failed or fleet.runs[0]
    base = run.result or DeployResult("failed", host=host_display, tag=fleet.tag)
    return dataclasses.replace(base, result=fleet.result, host=host_display if len(
        fleet.runs) > 1 else base.host)


def fleet_outputs(fleet: FleetResult) -> dict[str, str]:
    rows = []
    for run in fleet.runs:
        r = run.result
        rows.append({"host": run.target.display, "role": run.role, "result": run.status,
                     "previous-tag": (r.previous_tag or "") if r else "",
                     "tag": (r.tag if r else fleet.tag) or "",
                     "seconds": round(r.seconds, 1) if r else 0})
    switches = [s for run in fleet.runs if run.result is not None
                and (s := getattr(run.result, "switch_seconds", None)) is not None]
    return {"hosts": json.dumps(rows),
            "switch-seconds": f"{max(switches):.3f}" if switches else ""}
