"""One OpenSSH connection to the server, shared by every Docker call of a deploy.

OpenSSH takes `~` from the passwd entry, not `$HOME`, so nothing here relies on the user's
~/.ssh: a private folder (mode 0700) holds an ssh config and the control socket of one
master connection. The server's Docker Engine socket is forwarded through that connection
to a local unix socket in the folder, and the docker CLI, compose and the Docker SDK all
use it (`DOCKER_HOST=unix://...`): each Docker call is a channel in the one connection,
with no process started on the server. Where sshd forbids socket forwarding, each
connection to the local socket is piped to `docker system dial-stdio` on the server
instead (what `DOCKER_HOST=ssh://` does), still through the master connection.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .credentials import child_env
from .errors import ConnectionError_


@dataclass(frozen=True)
class SshTarget:
    host: str
    port: int = 22
    user: str = "deploy"
    key_file: Path | None = None       # None: OpenSSH's default identities and agent
    known_hosts: Path | None = None    # None: OpenSSH's default known_hosts files
    check_host_key: bool = True        # False only on the user's explicit opt-out

    @property
    def docker_host(self) -> str:
        return f"ssh://{self.user}@{self.host}:{self.port}"

    @property
    def display(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"


def _ssh_config(t: SshTarget, control_path: Path) -> str:
    lines = ["Host *",
             f"  HostName {t.host}", f"  Port {t.port}", f"  User {t.user}",
             "  BatchMode yes", "  ConnectTimeout 15",
             "  ServerAliveInterval 15", "  ServerAliveCountMax 4",
             "  ControlMaster auto", f"  ControlPath {control_path}", "  ControlPersist 300",
             "  LogLevel ERROR"]
    if t.key_file:
        lines += [f"  IdentityFile {t.key_file}", "  IdentitiesOnly yes"]
    if not t.check_host_key:
        lines += ["  StrictHostKeyChecking no", "  UserKnownHostsFile /dev/null"]
    else:
        lines += ["  StrictHostKeyChecking yes"]
        if t.known_hosts:
            lines += [f"  UserKnownHostsFile {t.known_hosts}", "  GlobalKnownHostsFile /dev/null"]
    return "\n".join(lines) + "\n"


def explain_ssh_failure(t: SshTarget, stderr: str) -> ConnectionError_:
    """Turn OpenSSH's complaint into what went wrong and what to do."""
    s = stderr.lower()
    evidence = stderr.strip()[-800:]
    if "host key verification failed" in s or "no " in s and "host key is known" in s \
            or "remote host identification has changed" in s:
        return ConnectionError_(
            f"the host key of {t.host}:{t.port} is not in known-hosts (or does not match it)",
            evidence=evidence,
            hint=f"add the server's key line to known-hosts: run `ssh-keyscan -p {t.port} {t.host}` "
                 "from a trusted network and compare it with the server's "
                 "/etc/ssh/ssh_host_*_key.pub before you paste it")
    if "permission denied" in s:
        return ConnectionError_(
            f"the server refused the SSH key for {t.user}@{t.host}:{t.port}", evidence=evidence,
            hint=f"add the public half of ssh-key to ~{t.user}/.ssh/authorized_keys on the "
                 "server, and check `user`")
    if "connection refused" in s or "timed out" in s or "no route" in s \
            or "could not resolve" in s or "network is unreachable" in s:
        return ConnectionError_(
            f"cannot reach {t.host}:{t.port} over SSH", evidence=evidence,
            hint="check `host` and `port`, and that sshd runs and the firewall lets the "
                 "runner in")
    return ConnectionError_(f"SSH to {t.display} failed", evidence=evidence,
                            hint="run `ssh -v` with the same key and host to see why")


class SshSession:
    """The master connection and the environment that makes docker use it."""

    def __init__(self, target: SshTarget, ssh_binary: str | None = None,
                 env: Mapping[str, str] | None = None):
        """`env`: the environment of every ssh process (the master lives on for a while, so it
        must not hold the Action's inputs); default: this process's, less the Action's
        inputs and the runner's tokens."""
        self.target = target
        self._env = dict(env) if env is not None else child_env(os.environ)
        self._ssh = ssh_binary or shutil.which("ssh") or "/usr/bin/ssh"
        self._dir: Path | None = None
        self._bridge: DialStdioBridge | None = None

    # -- lifecycle -----------------------------------------------------------------------
    def open(self) -> SshSession:
        self._dir = Path(tempfile.mkdtemp(prefix="bluegreen-ssh-"))
        os.chmod(self._dir, 0o700)
        self.config_file.write_text(_ssh_config(self.target, self._dir / "cm-%C"))
        # The master: authenticates once, then every docker call opens a channel in it.
        p = subprocess.run(
            [self._ssh, "-F", str(self.config_file), "-o", "ControlMaster=yes", "-fN",
             self.target.host],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, env=self._env)
        if p.returncode != 0:
            self.close()
            raise explain_ssh_failure(self.target, p.stderr)
        return self

    def close(self) -> None:
        if self._bridge:
            self._bridge.close()
            self._bridge = None
        if self._dir and self._dir.exists():
            subprocess.run([self._ssh, "-F", str(self.config_file), "-O", "exit", self.target.host],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=15, env=self._env)
            shutil.rmtree(self._dir, ignore_errors=True)
        self._dir = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- what callers use ----------------------------------------------------------------
    @property
    def folder(self) -> Path:
        assert self._dir, "the SSH session is not open"
        return self._dir

    @property
    def config_file(self) -> Path:
        return self.folder / "ssh_config"

    def env(self, base: dict[str, str]) -> dict[str, str]:
        """The environment for docker/compose child processes."""
        env = {k: v for k, v in base.items() if k != "DOCKER_CONTEXT"}
        env["DOCKER_HOST"] = self.docker_socket()
        return env

    def run(self, command: str, timeout: float = 60) -> subprocess.CompletedProcess:
        """Run a command on the server through the master connection."""
        return subprocess.run(
            [self._ssh, "-F", str(self.config_file), self.target.host, command],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
            env=self._env)

    def popen(self, command: str, **kw) -> subprocess.Popen:
        """A long-running command on the server through the master connection."""
        return subprocess.Popen([self._ssh, "-F", str(self.config_file), self.target.host, command],
                                env=self._env, **kw)

    def docker_socket(self) -> str:
        """A local unix socket that reaches the server's Docker Engine: the engine's socket
        forwarded through the master connection (no process per connection on the server),
        else, where sshd forbids forwarding or the engine is not on a local unix socket, a
        bridge to `docker system dial-stdio`, which finds the engine as the server's docker
        CLI does."""
        forwarded = self.folder / "docker.sock"
        if not forwarded.exists() and not self._bridge:
            remote = self._remote_engine_socket()
            if remote and self._forward(forwarded, remote):
                return f"unix://{forwarded}"
            self._bridge = DialStdioBridge(
                self.folder / "dial-stdio.sock",
                [self._ssh, "-F", str(self.config_file), self.target.host,
                 "docker system dial-stdio"], env=self._env)
        return f"unix://{self._bridge.path if self._bridge else forwarded}"

    def _remote_engine_socket(self) -> str | None:
        """Where the server's docker CLI finds its engine (DOCKER_HOST, the current context;
        rootless engines live under $XDG_RUNTIME_DIR): a unix socket path, or None."""
        p = self.run("docker context inspect --format '{{.Endpoints.docker.Host}}'", timeout=30)
        endpoint = p.stdout.strip() if p.returncode == 0 else "unix:///var/run/docker.sock"
        return endpoint[len("unix://"):] if endpoint.startswith("unix://") else None

    def _forward(self, local: Path, remote: str) -> bool:
        base = [self._ssh, "-F", str(self.config_file)]
        spec = ["-L", f"{local}:{remote}", self.target.host]
        p = subprocess.run(base + ["-O", "forward"] + spec, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=30, env=self._env)
        if p.returncode == 0 and _answers_ping(local):
            return True
        subprocess.run(base + ["-O", "cancel"] + spec, stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=30, env=self._env)
        local.unlink(missing_ok=True)
        return False


def _answers_ping(path: Path) -> bool:
    """Whether a forwarded socket really reaches a Docker Engine (sshd may accept the
    forward and fail each connection: socket missing, permission denied)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(str(path))
            s.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            head = s.recv(64)
            return head.startswith(b"HTTP/1.") and head.split(b" ", 2)[1] == b"200"
    except OSError:
        return False


class DialStdioBridge:
    """Each connection to a local unix socket becomes one `docker system dial-stdio` on the
    server; bytes are copied both ways until either side closes."""

    def __init__(self, path: Path, command: list[str], env: Mapping[str, str] | None = None):
        self.path = path
        self._command = command
        self._env = env
        self._procs: set[subprocess.Popen] = set()
        self._lock = threading.Lock()
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(path))
        os.chmod(path, 0o600)
        self._server.listen(16)
        threading.Thread(target=self._accept, daemon=True, name="dial-stdio-accept").start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        proc = subprocess.Popen(self._command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, bufsize=0, env=self._env)
        with self._lock:
            self._procs.add(proc)

        def upstream():
            try:
                while data := conn.recv(65536):
                    proc.stdin.write(data)
            except OSError:
                pass
            finally:
                try:
                    proc.stdin.close()
                except OSError:
                    pass

        t = threading.Thread(target=upstream, daemon=True)
        t.start()
        try:
            while data := os.read(proc.stdout.fileno(), 65536):
                conn.sendall(data)
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        finally:
            t.join(timeout=5)
            conn.close()
            proc.terminate()
            proc.wait(timeout=5)
            with self._lock:
                self._procs.discard(proc)

    def close(self) -> None:
        self._server.close()
        with self._lock:
            for p in self._procs:
                p.terminate()
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
