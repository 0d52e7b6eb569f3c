"""The "remote host": a private sshd on 127.0.0.1:2222 with a `deploy` user in group docker
(and `nodocker`, not in it), generated host and client keys, a known_hosts file, and an
`ssh` wrapper that hands OpenSSH its own config (OpenSSH ignores $HOME)."""

from __future__ import annotations

import os
import pwd
import signal
import socket
from pathlib import Path

from .common import log, pid_alive, run, spawn_detached, state_dir, stop_pid, wait_for

HOST = "127.0.0.1"
PORT = 2222
DEPLOY_USER = "deploy"
NODOCKER_USER = "nodocker"
USERS = {DEPLOY_USER: ["docker"], NODOCKER_USER: []}


def ssh_dir() -> Path:
    path = state_dir() / "ssh"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def paths() -> dict[str, Path]:
    d = ssh_dir()
    return {
        "host_key": d / "ssh_host_ed25519_key",
        "client_key": d / "id_ed25519",
        "known_hosts": d / "known_hosts",
        "sshd_config": d / "sshd_config",
        "ssh_config": d / "ssh_config",
        "pid": d / "sshd.pid",
        "log": d / "sshd.log",
        "bin": state_dir() / "bin",
    }


def _keygen(path: Path, comment: str) -> None:
    if not path.exists():
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path])


def _write_if_changed(path: Path, text: str, mode: int = 0o644) -> bool:
    if path.exists() and path.read_text() == text:
        return False
    path.write_text(text)
    os.chmod(path, mode)
    return True


def _ensure_user(name: str, groups: list[str], pubkey: str) -> None:
    try:
        pwd.getpwnam(name)
    except KeyError:
        log(f"useradd {name}")
        run(["useradd", "-m", "-s", "/bin/bash"] + (["-G", ",".join(groups)] if groups else [])
            + [name])
    # '*' unlocks the account for key logins (sshd refuses a locked '!' account)
    run(["usermod", "-p", "*", name])
    user = pwd.getpwnam(name)
    ssh = Path(user.pw_dir) / ".ssh"
    ssh.mkdir(mode=0o700, exist_ok=True)
    keys = ssh / "authorized_keys"
    _write_if_changed(keys, pubkey + "\n", 0o600)
    for path in (ssh, keys):
        os.chown(path, user.pw_uid, user.pw_gid)


def _sshd_config(p: dict[str, Path]) -> str:
    return "\n".join([
        f"Port {PORT}",
        f"ListenAddress {HOST}",
        f"HostKey {p['host_key']}",
        f"PidFile {p['pid']}",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PubkeyAuthentication yes",
        "UsePAM no",
        "PermitRootLogin no",
        f"AllowUsers {' '.join(USERS)}",
        "AuthorizedKeysFile .ssh/authorized_keys",
        # compose opens many sessions at once over one multiplexed connection
        "MaxSessions 100",
        "MaxStartups 100:30:200",
        "LogLevel INFO",
    ]) + "\n"


def _ssh_config(p: dict[str, Path]) -> str:
    return "\n".join([
        "Host *",
        f"  UserKnownHostsFile {p['known_hosts']}",
        "  GlobalKnownHostsFile /dev/null",
        "  StrictHostKeyChecking yes",
        f"  IdentityFile {p['client_key']}",
        "  IdentitiesOnly yes",
        "  BatchMode yes",
        "  ControlMaster auto",
        f"  ControlPath {ssh_dir()}/cm-%C",
        "  ControlPersist 60",
        "  ConnectTimeout 10",
        "  ServerAliveInterval 15",
    ]) + "\n"


def answers(host: str = HOST, port: int = PORT) -> bool:
    """True if an SSH server sends its banner on host:port."""
    try:
        with socket.create_connection((host, port), timeout=1) as s:
            s.settimeout(2)
            return s.recv(64).startswith(b"SSH-")
    except OSError:
        return False


def ensure_sshd() -> dict[str, Path]:
    p = paths()
    _keygen(p["host_key"], "bluegreen-world-host")
    _keygen(p["client_key"], "bluegreen-world-client")
    host_pub = p["host_key"].with_suffix(".pub").read_text().split()
    _write_if_changed(p["known_hosts"], f"[{HOST}]:{PORT} {host_pub[0]} {host_pub[1]}\n")
    client_pub = " ".join(p["client_key"].with_suffix(".pub").read_text().split()[:2])
    for name, groups in USERS.items():
        _ensure_user(name, groups, client_pub)
    _write_if_changed(p["ssh_config"], _ssh_config(p))
    p["bin"].mkdir(exist_ok=True)
    _write_if_changed(p["bin"] / "ssh",
                      f'#!/bin/sh\nexec /usr/bin/ssh -F "{p["ssh_config"]}" "$@"\n', 0o755)
    config_changed = _write_if_changed(p["sshd_config"], _sshd_config(p))
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation dir
    run(["/usr/sbin/sshd", "-t", "-f", p["sshd_config"]])  # validate before (re)loading
    pid = pid_alive(p["pid"])
    if pid and answers():
        if config_changed:
            os.kill(pid, signal.SIGHUP)  # sshd re-reads its config
        return p
    if answers():
        raise RuntimeError(f"another SSH server already listens on {HOST}:{PORT}")
    log(f"starting sshd on {HOST}:{PORT}")
    # -D: stay in the foreground of its own session, so the pid we record is sshd's
    spawn_detached(["/usr/sbin/sshd", "-D", "-f", p["sshd_config"], "-E", p["log"]],
                   ssh_dir() / "sshd.out")
    wait_for(answers, 10, f"sshd on {HOST}:{PORT}")
    wait_for(lambda: pid_alive(p["pid"]), 5, "sshd's pid file")
    return p


def stop_sshd() -> bool:
    p = paths()
    for user in USERS:  # end multiplexed master connections
        run(["/usr/bin/ssh", "-F", p["ssh_config"], "-O", "exit", "-p", str(PORT),
             f"{user}@{HOST}"], check=False, timeout=10)
    return stop_pid(p["pid"])
