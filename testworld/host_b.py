"""The second "remote host": its own sshd on 127.0.0.1:2223 (own host key, own known_hosts
line) in front of its own Docker Engine, a second `dockerd` with its own data root, exec
root, pid file and socket (/var/run/docker-b.sock). The `deploy` user's docker CLI reaches
engine B because this sshd sets `DOCKER_HOST` for its sessions (sshd's `SetEnv`), exactly as
a server whose engine is not on the default socket: deploys find it the way they find any
engine, through `docker context inspect` on the server.

Engine B shares the machine's kernel and network namespace with engine A, so it must not
fight over what engine A owns:
  - its default bridge is its own interface `docker-b0` (10.212.0.1/24), created here: never
    `--bridge none`, with which dockerd deletes the machine's `docker0` (engine A's!) at
    start; compose projects get their own bridge networks from a private address pool
    (`--default-address-pool 10.213.0.0/16`) that engine A's default pools (172.17-31.x,
    192.168.x) never use. `--live-restore` too: a dockerd with an address pool and without
    live restore deletes `docker0` when it restarts (moby's "clear stale bridge network");
  - `--iptables=false`: engine A's chains stay its own. Published ports still work (through
    docker-proxy on 127.0.0.1), but with br_netfilter loaded bridged traffic passes the
    FORWARD chain, whose policy engine A sets to DROP: one ACCEPT rule for the pool lets the
    containers of a project on engine B talk to each other (the proxy to the app);
  - its own containerd, under its exec root;
  - its published ports appear on 127.0.0.2 (a wrapper of docker-proxy maps the host IP
    127.0.0.1 or 0.0.0.0 to 127.0.0.2), as a second machine has its own address: the same
    compose file (`127.0.0.1:PORT:8080`) deploys to both hosts without a port clash, and a
    test reaches host A's app at 127.0.0.1:PORT and host B's at 127.0.0.2:PORT. Docker
    Engine 28 and later bind published ports in the daemon and hand docker-proxy the socket
    (`-use-listen-fd`): there engine B cannot publish a port engine A publishes, and the
    tests that need both hosts to serve one compose file skip (`publishes_apart()`).
The plain registry on 127.0.0.1:5000 is reachable from engine B (plain-HTTP registries on
127.0.0.0/8 need no configuration); the stacks' proxy images are pushed there already.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

from .common import log, pid_alive, run, spawn_detached, state_dir, stop_pid, wait_for
from .sshd import DEPLOY_USER, HOST, _keygen, _write_if_changed
from .sshd import answers as ssh_banner
from .sshd import paths as sshd_a_paths

PORT = 2223
SOCKET = "/var/run/docker-b.sock"
EXEC_ROOT = "/var/run/docker-b"
BRIDGE = "docker-b0"
BRIDGE_ADDRESS = "10.212.0.1/24"
ADDRESS_POOL = "10.213.0.0/16"
ENGINE_B_NETS = "10.212.0.0/15"     # the bridge and the pool
PUBLISH_IP = "127.0.0.2"            # where engine B's published ports appear
PROXY_WRAPPER = """#!/bin/sh
# engine B is "another machine": ports it publishes on 127.0.0.1 (or 0.0.0.0) appear on
# {publish_ip}
n=$#
prev=
for a in "$@"; do
  if [ "$prev" = "-host-ip" ] && {{ [ "$a" = 127.0.0.1 ] || [ "$a" = 0.0.0.0 ]; }}; then
    set -- "$@" {publish_ip}
  else
    set -- "$@" "$a"
  fi
  prev=$a
done
shift "$n"
exec {docker_proxy} "$@"
"""


def engine_major_version() -> int | None:
    """The major version of the dockerd binary engine B runs (it is started from PATH)."""
    try:
        out = subprocess.run(["dockerd", "--version"], capture_output=True, text=True,
                             timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r"version (\d+)\.", out)
    return int(m.group(1)) if m else None


def publishes_apart() -> bool:
    """Whether engine B's published ports land on PUBLISH_IP (docker-proxy binds them: <= 27)."""
    major = engine_major_version()
    return major is not None and major < 28


def proxy_wrapper(docker_proxy: str, publish_ip: str = PUBLISH_IP) -> str:
    return PROXY_WRAPPER.format(docker_proxy=docker_proxy, publish_ip=publish_ip)


def find_docker_proxy() -> str:
    """Debian ships it in /usr/sbin, Docker's own packages in /usr/bin (or libexec)."""
    for path in (shutil.which("docker-proxy"), "/usr/sbin/docker-proxy", "/usr/bin/docker-proxy",
                 "/usr/libexec/docker/docker-proxy", "/usr/local/bin/docker-proxy"):
        if path and os.access(path, os.X_OK):
            return path
    raise RuntimeError("docker-proxy not found: engine B publishes its ports through it")
FORWARD_RULE = ["FORWARD", "-s", ENGINE_B_NETS, "-d", ENGINE_B_NETS, "-m", "comment",
                "--comment", "bluegreen-world-engine-b", "-j", "ACCEPT"]


def host_dir() -> Path:
    path = state_dir() / "host-b"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def paths() -> dict[str, Path]:
    d = host_dir()
    return {
        "host_key": d / "ssh_host_ed25519_key",
        "known_hosts": d / "known_hosts",          # host B's line only
        "known_hosts_all": d / "known_hosts.all",  # host A's and host B's: one file for a fleet
        "sshd_config": d / "sshd_config",
        "sshd_pid": d / "sshd.pid",
        "sshd_log": d / "sshd.log",
        "dockerd_pid": d / "dockerd.pid",
        "dockerd_log": d / "dockerd.log",
        "proxy_wrapper": d / "docker-proxy",
        "data_root": d / "docker-data",
    }


def local_env_b() -> dict:
    """Environment for the docker CLI talking straight to engine B (test assertions)."""
    env = {k: v for k, v in os.environ.items() if k != "DOCKER_CONTEXT"}
    env["DOCKER_HOST"] = f"unix://{SOCKET}"
    return env


# --- engine B ---------------------------------------------------------------------------

def engine_answers() -> bool:
    try:
        proc = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"],
                              env=local_env_b(), capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


def _allow_bridged_traffic() -> None:
    if run(["iptables", "-C", *FORWARD_RULE], check=False).returncode != 0:
        run(["iptables", "-I", *FORWARD_RULE])


def _ensure_bridge() -> None:
    if not Path(f"/sys/class/net/{BRIDGE}").exists():
        run(["ip", "link", "add", BRIDGE, "type", "bridge"])
        run(["ip", "addr", "add", BRIDGE_ADDRESS, "dev", BRIDGE])
    run(["ip", "link", "set", BRIDGE, "up"])


def ensure_engine(timeout: float = 30.0) -> bool:
    """Start engine B unless it answers; True if this call started it."""
    p = paths()
    _allow_bridged_traffic()
    if engine_answers():
        return False
    _ensure_bridge()
    _write_if_changed(p["proxy_wrapper"], proxy_wrapper(find_docker_proxy()), 0o755)
    p["data_root"].mkdir(exist_ok=True)
    log(f"starting engine B (dockerd on {SOCKET}, log: {p['dockerd_log']})")
    spawn_detached([
        "dockerd", "-H", f"unix://{SOCKET}", "--data-root", p["data_root"],
        "--exec-root", EXEC_ROOT, "--pidfile", p["dockerd_pid"],
        "--bridge", BRIDGE, "--iptables=false", "--ip-masq=false",
        "--default-address-pool", f"base={ADDRESS_POOL},size=24",
        "--userland-proxy-path", p["proxy_wrapper"], "--live-restore",
    ], p["dockerd_log"])
    wait_for(engine_answers, timeout, "engine B to answer `docker info`", 0.2)
    return True


def stop_engine() -> bool:
    return stop_pid(paths()["dockerd_pid"], timeout=30)


def remove_world_containers() -> int:
    """Every compose container on engine B (engine B exists for the tests alone)."""
    if not engine_answers():
        return 0
    ids = run(["docker", "ps", "-aq", "--filter", "label=com.docker.compose.project"],
              env=local_env_b(), check=False).stdout.split()
    if ids:
        run(["docker", "rm", "-f", "-v", *ids], env=local_env_b(), check=False)
    return len(ids)


# --- sshd B -----------------------------------------------------------------------------

def _sshd_config(p: dict[str, Path]) -> str:
    return "\n".join([
        f"Port {PORT}",
        f"ListenAddress {HOST}",
        f"HostKey {p['host_key']}",
        f"PidFile {p['sshd_pid']}",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PubkeyAuthentication yes",
        "UsePAM no",
        "PermitRootLogin no",
        f"AllowUsers {DEPLOY_USER}",
        "AuthorizedKeysFile .ssh/authorized_keys",
        "MaxSessions 100",
        "MaxStartups 100:30:200",
        # what makes this "another server": its docker CLI talks to engine B
        f"SetEnv DOCKER_HOST=unix://{SOCKET}",
        "LogLevel INFO",
    ]) + "\n"


def sshd_answers() -> bool:
    return ssh_banner(HOST, PORT)


def ensure_sshd() -> dict[str, Path]:
    """sshd B; needs sshd A's set-up first (the deploy user and the client key)."""
    p = paths()
    a = sshd_a_paths()
    _keygen(p["host_key"], "bluegreen-world-host-b")
    pub = p["host_key"].with_suffix(".pub").read_text().split()
    line_b = f"[{HOST}]:{PORT} {pub[0]} {pub[1]}\n"
    _write_if_changed(p["known_hosts"], line_b)
    _write_if_changed(p["known_hosts_all"], a["known_hosts"].read_text() + line_b)
    changed = _write_if_changed(p["sshd_config"], _sshd_config(p))
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    run(["/usr/sbin/sshd", "-t", "-f", p["sshd_config"]])
    pid = pid_alive(p["sshd_pid"])
    if pid and sshd_answers():
        if changed:
            os.kill(pid, signal.SIGHUP)
        return p
    if sshd_answers():
        raise RuntimeError(f"another SSH server already listens on {HOST}:{PORT}")
    log(f"starting sshd B on {HOST}:{PORT}")
    spawn_detached(["/usr/sbin/sshd", "-D", "-f", p["sshd_config"], "-E", p["sshd_log"]],
                   host_dir() / "sshd.out")
    wait_for(sshd_answers, 10, f"sshd B on {HOST}:{PORT}")
    wait_for(lambda: pid_alive(p["sshd_pid"]), 5, "sshd B's pid file")
    return p


def stop_sshd() -> bool:
    return stop_pid(paths()["sshd_pid"])


def ensure() -> None:
    ensure_engine()
    ensure_sshd()
