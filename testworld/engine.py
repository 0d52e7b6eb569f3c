"""Make sure a Docker Engine answers; start our own `dockerd` only if none does."""

from __future__ import annotations

import shutil
import subprocess

from .common import local_env, log, pid_alive, spawn_detached, state_dir, stop_pid, wait_for


def engine_answers() -> bool:
    try:
        proc = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"],
                              env=local_env(), capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


def ensure_engine(timeout: float = 30.0) -> bool:
    """Return True if this call started dockerd. An engine that already answers is reused."""
    if engine_answers():
        return False
    if not shutil.which("dockerd"):
        raise RuntimeError("no Docker Engine answers and dockerd is not installed "
                           "(run scripts/install-system.sh)")
    state = state_dir()
    log("starting dockerd (log: %s)" % (state / "dockerd.log"))
    pid = spawn_detached(["dockerd"], state / "dockerd.log")
    (state / "dockerd.pid").write_text(f"{pid}\n")
    wait_for(engine_answers, timeout, "dockerd to answer `docker info`", 0.2)
    return True


def started_by_world() -> bool:
    return pid_alive(state_dir() / "dockerd.pid") is not None


def stop_engine() -> bool:
    """Stop dockerd only if the world started it (its pid file is ours)."""
    return stop_pid(state_dir() / "dockerd.pid", timeout=30)
