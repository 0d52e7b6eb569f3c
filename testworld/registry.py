"""Two local image registries (Debian's docker-registry, distribution 2.8):
127.0.0.1:5000 without auth and 127.0.0.1:5001 with htpasswd auth (user `ci`)."""

from __future__ import annotations

import base64
import os
import secrets
import urllib.error
import urllib.request
from pathlib import Path

from .common import log, pid_alive, run, spawn_detached, state_dir, stop_pid, wait_for

HOST = "127.0.0.1"
PLAIN_PORT = 5000
AUTH_PORT = 5001
AUTH_USER = "ci"


def reg_dir() -> Path:
    path = state_dir() / "registry"
    path.mkdir(exist_ok=True)
    return path


def password_file() -> Path:
    return reg_dir() / "ci.password"


def auth_password() -> str:
    return password_file().read_text().strip()


def status_of(port: int, auth: tuple[str, str] | None = None) -> int | None:
    """HTTP status of GET /v2/ (200 open, 401 auth required), None if nothing answers."""
    req = urllib.request.Request(f"http://{HOST}:{port}/v2/")
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(req, timeout=2) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code
    except OSError:
        return None


def _ensure_password() -> None:
    """Create the ci password and its htpasswd entry once."""
    pw_file, htpasswd = password_file(), reg_dir() / "htpasswd"
    if pw_file.exists() and htpasswd.exists():
        return
    password = secrets.token_urlsafe(18)
    # -i: the password comes on stdin, never in argv
    entry = run(["htpasswd", "-niB", AUTH_USER], input=password).stdout.strip()
    htpasswd.write_text(entry + "\n")
    fd = os.open(pw_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(password + "\n")


def _config(port: int, auth: bool) -> Path:
    storage = reg_dir() / f"storage-{port}"
    storage.mkdir(exist_ok=True)
    lines = [
        "version: 0.1",
        "log: {level: error, accesslog: {disabled: true}}",
        f"storage: {{filesystem: {{rootdirectory: {storage}}}, delete: {{enabled: true}}}}",
        f"http: {{addr: '{HOST}:{port}', secret: {secrets.token_hex(16)}}}",
    ]
    if auth:
        lines.append(f"auth: {{htpasswd: {{realm: bluegreen-world, path: {reg_dir() / 'htpasswd'}}}}}")
    path = reg_dir() / f"config-{port}.yml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _ready(port: int, auth: bool) -> bool:
    if not auth:
        return status_of(port) == 200
    return status_of(port) == 401 and status_of(port, (AUTH_USER, auth_password())) == 200


def _ensure_one(port: int, auth: bool) -> None:
    pid_file = reg_dir() / f"registry-{port}.pid"
    if _ready(port, auth):
        return
    stop_pid(pid_file)  # ours, but not right (e.g. an old password): start afresh
    got = status_of(port)
    if got is not None:
        raise RuntimeError(f"a registry that is not this world's answers on {HOST}:{port} "
                           f"(GET /v2/ -> {got}); stop it or use its state dir")
    config = _config(port, auth)
    log(f"starting registry on {HOST}:{port}{' (auth)' if auth else ''}")
    pid = spawn_detached(["docker-registry", "serve", config], reg_dir() / f"registry-{port}.log")
    pid_file.write_text(f"{pid}\n")
    wait_for(lambda: _ready(port, auth), 15, f"the registry on {HOST}:{port}")


def ensure_registries() -> None:
    _ensure_password()
    _ensure_one(PLAIN_PORT, auth=False)
    _ensure_one(AUTH_PORT, auth=True)


def stop_registries() -> list[int]:
    return [p for p in (PLAIN_PORT, AUTH_PORT) if stop_pid(reg_dir() / f"registry-{p}.pid")]


def running(port: int) -> bool:
    return pid_alive(reg_dir() / f"registry-{port}.pid") is not None and status_of(port) is not None
