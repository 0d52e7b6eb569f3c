#!/usr/bin/env python3
"""The GitHub Action's front door: `uses: org/bluegreen-action@v1`.

Reads only the environment, as the runner sets it for a container action: the inputs as
`INPUT_<NAME>` (upper-cased, hyphens kept), `GITHUB_WORKSPACE`, `GITHUB_REPOSITORY`,
`GITHUB_OUTPUT` and `GITHUB_STEP_SUMMARY`. In order:

1. mask the secret inputs (`::add-mask::`) before anything else is printed;
2. validate every input; a bad one ends the run here with exit code 2, untouched server;
3. write the SSH key and known_hosts into a private folder, log in to the registry;
4. run the same engine as the `bluegreen` CLI, one log group per phase;
5. write the outputs and the step summary; exit with the error's exit code.

`python entrypoint.py`, run from a checkout with the same INPUT_* variables, does the same
as the container (without GITHUB_WORKSPACE the current folder is the workspace).
"""
from __future__ import annotations

import dataclasses
import json
import os
import signal
import sys
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from bluegreen_action import __version__, cancel
from bluegreen_action.action_inputs import ActionInputs, InvalidInputs, raw_input, read_inputs, secret_values
from bluegreen_action.cancel import Cancelled
from bluegreen_action.credentials import Credentials, child_env
from bluegreen_action.engine import Deployment, DeployOptions, DeployResult
from bluegreen_action.errors import BluegreenError
from bluegreen_action.fleet import FleetResult
from bluegreen_action.fleet_action import fleet_outputs, outputs_result, run_action
from bluegreen_action.fleet_summary import render_fleet_summary
from bluegreen_action.github import GitHubReporter, append_summary, write_outputs
from bluegreen_action.ssh import SshTarget
from bluegreen_action.summary import render_summary


def _unraisable(u) -> None:
    """Errors in finalizers (e.g. a Docker SDK response collected at exit on Python 3.13):
    one line, protected like any other text, instead of a bare traceback on stderr."""
    r = GitHubReporter(stream=sys.stdout)
    r.text(f"(ignored in a finalizer: {type(u.exc_value).__name__}: {u.exc_value})")
    r.finish()


def main(environ: Mapping[str, str] | None = None, stdout: TextIO | None = None) -> int:
    env = dict(os.environ if environ is None else environ)
    started = time.monotonic()
    workspace = Path(env.get("GITHUB_WORKSPACE") or Path.cwd())
    reporter = GitHubReporter(stream=stdout or sys.stdout, workspace=workspace)
    for secret in secret_values(env):       # before anything else is printed
        reporter.mask(secret)

    host = f"{raw_input(env, 'user')}@{raw_input(env, 'host')}:{raw_input(env, 'port')}"
    result = DeployResult("failed", host=host, tag=raw_input(env, "tag"))
    try:
        try:
            inputs = read_inputs(env, cwd=Path.cwd())
        except InvalidInputs as e:
            for problem in e.problems:
                reporter.annotate_error(problem, title=problem.title)
            result.error = e
            reporter.text("Nothing on the server was touched: fix the inputs above.")
            return _finish(reporter, env, result, started, exit_code=e.exit_code)
        result.host = inputs.target_display
        for name, message in inputs.warnings:
            reporter.warning(message, title=f"Input `{name}`")
        result, fleet = _deploy(inputs, env, reporter, result)
        return _finish(reporter, env, result, started, fleet=fleet)
    except Cancelled as c:
        name = signal.Signals(c.signum).name
        result.error = BluegreenError(
            f"the deploy was cancelled ({name})",
            hint="traffic was left on healthy containers and the deploy lock given back; the "
                 "host may be part-way through the deploy: run it again to finish it")
        result.result = "failed"
        reporter.annotate_error(result.error, title="Cancelled")
        return _finish(reporter, env, result, started, exit_code=128 + c.signum)
    except Exception as e:   # a bug: say so plainly, keep the traceback in the log
        result.error = BluegreenError(
            f"internal error: {type(e).__name__}: {e}", evidence=traceback.format_exc(),
            hint="this is a bug in bluegreen-action; please report it with this log")
        reporter.error(result.error)
        return _finish(reporter, env, result, started, exit_code=1)


def _deploy(inputs: ActionInputs, env: dict[str, str], reporter: GitHubReporter,
            result: DeployResult) -> tuple[DeployResult, FleetResult | None]:
    """Every host in turn (fleet.py), or a rollback (`command: rollback`)."""
    deployments: list[Deployment] = []
    with Credentials() as creds:
        try:
            key = creds.ssh_key(inputs.ssh_key)
            known_hosts = creds.known_hosts(inputs.known_hosts) if inputs.known_hosts else None
            child = child_env(env)
            if inputs.registry:
                with reporter.phase(f"Log in to {inputs.registry}"):
                    child.update(creds.docker_login(inputs.registry, inputs.registry_username,
                                                    inputs.registry_password, env))
                    reporter.info(f"logged in to {inputs.registry} as {inputs.registry_username} "
                                  "(credentials in a temporary DOCKER_CONFIG)")
            opts = DeployOptions(
                target=SshTarget(inputs.host, inputs.port, inputs.user, key, known_hosts,
                                 check_host_key=not inputs.insecure_skip_host_key_check),
                compose_file=inputs.compose_file, apps=inputs.services, tag=inputs.tag,
                project_name=inputs.project_name, repo_name=inputs.repo_name,
                proxy_service=inputs.proxy_service, proxy_kind=inputs.proxy_kind,
                health_timeout=inputs.health_timeout, drain_timeout=inputs.drain_timeout,
                health_path=inputs.health_path, dry_run=inputs.dry_run,
                lock_timeout=inputs.lock_timeout, break_lock=inputs.break_lock,
                strategy=inputs.strategy, pre_deploy=inputs.pre_deploy,
                pre_deploy_timeout=inputs.pre_deploy_timeout, env=child)
            hosts = [dataclasses.replace(opts.target, host=h, port=p, user=u)
                     for h, p, u in inputs.hosts]
            fleet = run_action(inputs.command, opts, hosts, inputs.keep_images, env, reporter,
                               watch=deployments)
            return outputs_result(fleet, inputs.target_display), fleet
        except BluegreenError as e:        # the registry login
            result.error = e
            reporter.error(e)
            return result, None
        except Cancelled:
            deployment = deployments[-1] if deployments else None
            if deployment is not None:     # keep what the engine knew (images, previous tag)
                result.__dict__.update({k: v for k, v in deployment.result.__dict__.items()
                                        if k not in ("result", "error")})
            raise


def _finish(reporter: GitHubReporter, env: Mapping[str, str], result: DeployResult,
            started: float, exit_code: int | None = None, fleet: FleetResult | None = None) -> int:
    result.seconds = time.monotonic() - started
    if exit_code is None:
        exit_code = result.error.exit_code if result.error else 0
    outputs = {
        "result": result.result,
        "tag": result.tag,
        "previous-tag": result.previous_tag or "",
        "duration-seconds": f"{result.seconds:.1f}",
        "project": result.project,
        "images": json.dumps({s: {"old": old, "new": new} for s, (old, new) in result.images.items()}),
        "routed": json.dumps(result.routed),
        "error": reporter.redact(result.error.message) if result.error else "",
        "exit-code": str(exit_code),
    }
    outputs.update(fleet_outputs(fleet) if fleet else {"hosts": "[]", "switch-seconds": ""})
    summary = reporter.redact(render_fleet_summary(fleet, version=__version__) if fleet else
                              render_summary(result, reporter.phases, version=__version__))
    try:
        if env.get("GITHUB_OUTPUT"):
            write_outputs(env["GITHUB_OUTPUT"], outputs)
        else:
            reporter.text("outputs (GITHUB_OUTPUT is not set):\n" + "\n".join(
                f"  {k}={v}" for k, v in outputs.items()))
        if env.get("GITHUB_STEP_SUMMARY"):
            append_summary(env["GITHUB_STEP_SUMMARY"], summary)
    except OSError as e:
        reporter.warning(f"could not write the outputs or the step summary: {e}")
    if result.result == "dry-run":
        reporter.text(f"dry run: {result.project} on {result.host} would go from "
                      f"{result.previous_tag or 'nothing'} to {result.tag}; nothing was changed")
    elif result.error is None and fleet is not None and fleet.action == "rollback":
        reporter.text(f"rolled back: {result.tag} serves again on {inputs_hosts(fleet)}, "
                      f"{result.seconds:.1f}s")
    elif result.error is None:
        reporter.text(f"{result.result}: {result.project} on {result.host} runs {result.tag} "
                      f"(was {result.previous_tag or 'nothing'}), {result.seconds:.1f}s")
    reporter.finish()
    return exit_code


def inputs_hosts(fleet: FleetResult) -> str:
    return ", ".join(r.target.display for r in fleet.runs)


if __name__ == "__main__":
    cancel.install()    # SIGTERM/SIGINT/SIGHUP: unwind (lock, SSH, secrets), exit 128+signal
    sys.unraisablehook = _unraisable
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8", errors="replace")
    sys.exit(main())
