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
        repair_default_bridge()
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


def repair_default_bridge() -> bool:
    """Re-create the local engine's `docker0` if something deleted it (a second dockerd started
    with `--bridge none` removes it), so builds and `docker run` work again. Only for an engine
    running on this very host; returns True if it repaired."""
    import ipaddress
    import json
    from pathlib import Path

    from .common import pid_alive, run

    if pid_alive(Path("/var/run/docker.pid"), "dockerd") is None:
        return False
    proc = run(["docker", "network", "inspect", "bridge"], check=False)
    if proc.returncode != 0:
        return False
    net = json.loads(proc.stdout)[0]
    name = net.get("Options", {}).get("com.docker.network.bridge.name", "docker0")
    if Path(f"/sys/class/net/{name}").exists() or not net["IPAM"]["Config"]:
        return False
    ipam = net["IPAM"]["Config"][0]
    prefix = ipaddress.ip_network(ipam["Subnet"]).prefixlen
    log(f"re-creating the engine's missing default bridge {name} ({ipam['Gateway']}/{prefix})")
    run(["ip", "link", "add", name, "type", "bridge"])
    run(["ip", "addr", "add", f"{ipam['Gateway']}/{prefix}", "dev", name])
    run(["ip", "link", "set", name, "up"])
    return True
