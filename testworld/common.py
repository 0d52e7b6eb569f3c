"""Small helpers shared by the world's modules: state dir, logging, commands, polling."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR = Path(__file__).resolve().parent


def state_dir() -> Path:
    """Where the world keeps its keys, configs, logs, caches and registry storage."""
    path = Path(os.environ.get("BLUEGREEN_WORLD_DIR", "/var/tmp/bluegreen-world"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def log(msg: str) -> None:
    print(f"[world] {msg}", file=sys.stderr, flush=True)


def local_env(**extra: str) -> dict:
    """Environment for talking to the local engine (never an inherited DOCKER_HOST)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "DOCKER_CONTEXT")}
    env.update(extra)
    return env


def run(args, *, input=None, env=None, check=True, timeout=600, cwd=None):
    """Run a command, capturing output; raise with its output on failure."""
    proc = subprocess.run(
        [str(a) for a in args], input=input, env=env or local_env(), cwd=cwd,
        capture_output=True, text=True, timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise RuntimeError(
            f"command failed ({proc.returncode}): {' '.join(map(str, args))}\n"
            f"{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
        )
    return proc


def spawn_detached(args, log_path: Path, env=None) -> int:
    """Start a long-lived process in its own session (like `setsid`), output to log_path."""
    with open(log_path, "ab") as logf:
        proc = subprocess.Popen(
            [str(a) for a in args], stdin=subprocess.DEVNULL, stdout=logf,
            stderr=subprocess.STDOUT, start_new_session=True, env=env or local_env(),
        )
    return proc.pid


def wait_for(condition, timeout: float, what: str, interval: float = 0.1):
    """Poll `condition()` until it returns something truthy; raise TimeoutError after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def pid_alive(pid_file: Path, name: str | None = None) -> int | None:
    """The pid recorded in pid_file if that process still runs (and its command line holds
    `name`, default: the pid file's stem, e.g. `sshd`; guards against recycled pids)."""
    name = name or pid_file.stem.split("-")[0]
    try:
        pid = int(pid_file.read_text().split()[0])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        return pid if name.encode() in cmdline else None
    except (OSError, ValueError, IndexError):
        return None


def stop_pid(pid_file: Path, timeout: float = 10.0) -> bool:
    """SIGTERM the process recorded in pid_file and wait for it to go; True if it was running."""
    import signal

    pid = pid_alive(pid_file)
    if pid is None:
        pid_file.unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    try:
        wait_for(lambda: pid_alive(pid_file) is None or _zombie(pid), timeout,
                 f"pid {pid} to exit", 0.05)
    except TimeoutError:
        os.kill(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)
    return True


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


@contextmanager
def world_lock(timeout: float = 900):
    """An exclusive lock on the state dir, so concurrent World.ensure() calls take turns."""
    import fcntl

    with open(state_dir() / "ensure.lock", "w") as f:
        wait_for(lambda: _try_lock(f, fcntl), timeout, "the world lock (another `up` runs)", 0.2)
        yield


def _try_lock(f, fcntl) -> bool:
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
