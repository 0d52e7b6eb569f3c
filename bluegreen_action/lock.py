"""The deploy lock: one deploy at a time per host and compose project, kept by the
server's Docker Engine itself (no file, no extra service).

The lock is a container named `bluegreen-lock-<project>`, created and never started, from
`bluegreen-lock:1`, an empty image (0 bytes) imported on first use. Docker refuses a
second container of the same name (409 Conflict), so of two deploys creating it at the
same moment exactly one succeeds. Its labels say who holds it: the GitHub run's link (or
user@machine for the CLI), the tag, when the deploy started, from where and as whom.

A killed deploy (SIGKILL, a runner that vanished) cannot remove its lock, so the lock
also names a process on the server whose life is the holder's: before taking the lock the
holder opens one more SSH channel running `cat`, fed by a pipe only the holder's process
writes to. If that process dies, however it dies, the pipe closes, `cat` reads EOF and
exits. A deploy that finds the lock checks, on the server, whether that process (pid,
start time, boot id) still runs: if not, the holder is dead and the lock is broken with a
warning naming it. Where that cannot be judged (the server hides other users' processes,
or the lock predates this check) the lock counts as held, and the error says how to break
it: `bluegreen lock release` or the Action input `break-lock: true`.

Known limit: `docker container prune` deletes a held lock (it is a stopped container).
"""
from __future__ import annotations

import getpass
import io
import re
import secrets
import select
import socket
import subprocess
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timezone

import docker.errors

from .clock import Clock
from .errors import LockError

LOCK_IMAGE = "bluegreen-lock:1"
LABEL = "org.bluegreen.lock"          # LABEL + ".who", ".tag", ...
POLL = 2.0
KEEPALIVE = ('echo "bluegreen-keepalive $$ $(cut -d" " -f22 /proc/$$/stat) '
             '$(cat /proc/sys/kernel/random/boot_id)"; exec cat >/dev/null')


def lock_name(project: str) -> str:
    return f"bluegreen-lock-{project}"


@dataclass(frozen=True)
class Holder:
    """Who holds (or wants) a lock; what its labels say."""
    who: str                  # the GitHub run's link, or user@machine
    tag: str
    started: str              # ISO 8601, UTC
    client: str               # the machine the deploy runs on, and its pid there
    user: str                 # the SSH user on the server
    id: str = ""
    pid: int | None = None    # the keepalive process on the server
    pid_start: str = ""       # its start time (clock ticks after boot, /proc/PID/stat field 22)
    boot_id: str = ""
    container_id: str = ""    # the lock container (not a label)

    FIELDS = ("id", "who", "tag", "started", "client", "user", "pid", "pid_start", "boot_id")

    def labels(self) -> dict[str, str]:
        return {LABEL: "1", **{f"{LABEL}.{f}": str(getattr(self, f) or "") for f in self.FIELDS}}

    @classmethod
    def from_labels(cls, labels: Mapping[str, str], container_id: str = "") -> Holder:
        get = {f: labels.get(f"{LABEL}.{f}", "") for f in cls.FIELDS}
        pid = get.pop("pid")
        return cls(**get, pid=int(pid) if pid.isdigit() else None, container_id=container_id)

    def describe(self, now: datetime | None = None) -> str:
        since = self.started or "an unknown time"
        try:
            start = datetime.fromisoformat(self.started.replace("Z", "+00:00"))
            age = int(((now or datetime.now(timezone.utc)) - start).total_seconds())
            since += f" ({_duration(age)} ago)"
        except ValueError:
            pass
        return (f"{self.who or 'an unknown deploy'} (tag {self.tag or '?'}, started {since}, "
                f"from {self.client or '?'} as {self.user or '?'})")


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{max(seconds, 0)}s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def run_link(env: Mapping[str, str]) -> str | None:
    """The GitHub Actions run this process belongs to, from the runner's variables."""
    repo, run = env.get("GITHUB_REPOSITORY"), env.get("GITHUB_RUN_ID")
    if not repo or not run:
        return None
    link = f"{env.get('GITHUB_SERVER_URL') or 'https://github.com'}/{repo}/actions/runs/{run}"
    attempt = env.get("GITHUB_RUN_ATTEMPT", "")
    if attempt.isdigit() and int(attempt) > 1:
        link += f"/attempts/{attempt}"
    return link


def me(env: Mapping[str, str], tag: str, user: str, pid: int) -> Holder:
    """The holder a deploy with this environment, tag and SSH user would be."""
    machine = socket.gethostname()
    try:
        local_user = getpass.getuser()
    except (KeyError, OSError):
        local_user = "?"
    link = run_link(env)
    who = link or f"{local_user}@{machine}"
    if link and env.get("GITHUB_ACTOR"):
        who += f" (by {env['GITHUB_ACTOR']})"
    return Holder(who=who, tag=tag, client=f"{machine} pid {pid}", user=user,
                  started=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))


# -- is the holder still alive? -----------------------------------------------------------------
def probe_command(pid: int) -> str:
    return ('echo "boot $(cat /proc/sys/kernel/random/boot_id 2>/dev/null)"; '
            'if [ -r /proc/1/stat ]; then echo "init visible"; fi; '
            f'echo "start $(cut -d" " -f22 /proc/{int(pid)}/stat 2>/dev/null)"')


def judge(holder: Holder, probe_output: str | None) -> tuple[str, str]:
    """("alive" | "dead" | "unknown", why), from the probe's output on the server."""
    if holder.pid is None or not holder.pid_start:
        return "unknown", "the lock names no process to check"
    if probe_output is None:
        return "unknown", "the server could not be asked"
    facts = dict(line.split(" ", 1) for line in probe_output.splitlines() if " " in line)
    boot, start = facts.get("boot", "").strip(), facts.get("start", "").strip()
    if holder.boot_id and boot and boot != holder.boot_id:
        return "dead", "the server has rebooted since"
    if start == holder.pid_start:
        return "alive", f"its process on the server (pid {holder.pid}) runs"
    if facts.get("init", "").strip() == "visible":
        return "dead", (f"its process on the server (pid {holder.pid}), which lives exactly as "
                        "long as the deploy that took the lock, is gone")
    return "unknown", "the server hides other users' processes (/proc hidepid)"


class Keepalive:
    """The SSH channel whose remote `cat` lives exactly as long as this process."""

    def __init__(self, proc: subprocess.Popen, pid: int, start: str, boot_id: str):
        self.proc, self.pid, self.start, self.boot_id = proc, pid, start, boot_id

    @classmethod
    def open(cls, ssh, timeout: float = 15) -> Keepalive:
        proc = ssh.popen(KEEPALIVE, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
        line = b""
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        if ready:
            line = proc.stdout.readline()
        m = re.match(rb"^bluegreen-keepalive (\d+) (\d+) ([0-9a-f-]+)\s*$", line)
        if not m:
            _end(proc)
            raise OSError(f"unexpected answer from the server: {line[:200]!r}")
        return cls(proc, int(m.group(1)), m.group(2).decode(), m.group(3).decode())

    def close(self) -> None:
        _end(self.proc)


def _end(proc: subprocess.Popen) -> None:
    try:
        proc.stdin.close()
        proc.wait(timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        proc.kill()
        proc.wait(timeout=5)


# -- the lock -----------------------------------------------------------------------------------
class DeployLock:
    """`acquire()` ... `release()`; `holder()` and `break_()` for `bluegreen lock`."""

    def __init__(self, client, ssh, project: str, clock: Clock | None = None,
                 log=lambda msg: None, warn=lambda msg: None):
        self.client = client          # a Docker SDK client of the server's engine
        self.ssh = ssh                # the SshSession (keepalive channel, liveness probe)
        self.project = project
        self.name = lock_name(project)
        self.clock = clock or Clock()
        self._log, self._warn = log, warn
        self.held: Holder | None = None
        self._keepalive: Keepalive | None = None

    # -- reading ----------------------------------------------------------------------------
    def holder(self) -> Holder | None:
        try:
            c = self.client.api.inspect_container(self.name)
        except docker.errors.NotFound:
            return None
        return Holder.from_labels((c.get("Config") or {}).get("Labels") or {}, c["Id"])

    def liveness(self, holder: Holder) -> tuple[str, str]:
        output = None
        if holder.pid is not None and self.ssh is not None:
            try:
                p = self.ssh.run(probe_command(holder.pid), timeout=30)
                output = p.stdout if p.returncode == 0 else None
            except (OSError, subprocess.TimeoutExpired):
                output = None
        return judge(holder, output)

    # -- taking and giving back -------------------------------------------------------------
    def acquire(self, me: Holder, timeout: float, break_first: bool = False) -> Holder:
        """Take the lock, waiting up to `timeout` seconds for a live holder; a dead holder's
        lock is broken. Raises LockError naming the holder when the wait runs out."""
        me = replace(me, id=secrets.token_hex(8))
        if self.ssh is not None:
            try:
                self._keepalive = Keepalive.open(self.ssh)
                me = replace(me, pid=self._keepalive.pid, pid_start=self._keepalive.start,
                             boot_id=self._keepalive.boot_id)
            except OSError as e:
                self._warn(f"the deploy lock cannot be tied to this process ({e}): if this "
                           "deploy is killed, its lock must be broken by hand")
        self._ensure_image()
        deadline = self.clock.now() + timeout
        announced = ""
        if break_first:
            self.break_("break-lock is set")
        while True:
            try:
                cid = self.client.api.create_container(
                    LOCK_IMAGE, command=["lock"], name=self.name, labels=me.labels(),
                    network_disabled=True)["Id"]
                self.held = replace(me, container_id=cid)
                return self.held
            except docker.errors.APIError as e:
                if e.status_code != 409:
                    self._close_keepalive()
                    raise LockError(f"cannot create the deploy lock {self.name}: {e.explanation}",
                                    hint="check that the server's Docker Engine works "
                                         "(`docker ps` on the server)") from None
            holder = self.holder()
            if holder is None:
                continue                              # given back just now: try again
            state, why = self.liveness(holder)
            if state == "dead":
                self._warn(f"breaking the deploy lock of {self.project} left by "
                           f"{holder.describe()}: {why}")
                self._remove(holder)
                continue
            left = deadline - self.clock.now()
            if left <= 0:
                self._close_keepalive()
                raise self._held_error(holder, timeout, state, why)
            if announced != holder.id:
                announced = holder.id
                self._log(f"another deploy holds the lock of {self.project}: "
                          f"{holder.describe()}; waiting up to {timeout:g}s")
            self.clock.sleep(min(POLL, left))

    def release(self) -> None:
        """Give the lock back, if this deploy holds it (never another deploy's)."""
        held, self.held = self.held, None
        try:
            if held is not None:
                try:
                    self.client.api.remove_container(held.container_id, force=True)
                except docker.errors.NotFound:
                    pass
        finally:
            self._close_keepalive()

    def break_(self, reason: str) -> Holder | None:
        """Remove the lock whoever holds it; returns who held it."""
        holder = self.holder()
        if holder is not None:
            self._warn(f"breaking the deploy lock of {self.project} held by "
                       f"{holder.describe()} ({reason})")
            self._remove(holder)
        return holder

    # -- details ----------------------------------------------------------------------------
    def _remove(self, holder: Holder) -> None:
        """By container id: a lock taken again since it was read stays."""
        try:
            self.client.api.remove_container(holder.container_id, force=True)
        except docker.errors.NotFound:
            pass

    def _close_keepalive(self) -> None:
        if self._keepalive is not None:
            self._keepalive.close()
            self._keepalive = None

    def _ensure_image(self) -> None:
        try:
            self.client.api.inspect_image(LOCK_IMAGE)
            return
        except docker.errors.ImageNotFound:
            pass
        empty = io.BytesIO()
        tarfile.open(fileobj=empty, mode="w").close()
        name, tag = LOCK_IMAGE.split(":")
        self.client.api.import_image_from_data(
            empty.getvalue(), repository=name, tag=tag,
            changes=[f"LABEL {LABEL}=1", 'CMD ["lock"]'])

    def _held_error(self, holder: Holder, timeout: float, state: str, why: str) -> LockError:
        t = self.ssh.target if self.ssh is not None else None
        where = f" --host {t.host} --port {t.port} --user {t.user}" if t else ""
        return LockError(
            f"another deploy holds the lock of {self.project}: {holder.describe()}",
            evidence=f"waited {timeout:g}s; holder {state}: {why}",
            hint=("wait for that deploy to finish, or give lock-timeout (--lock-timeout) more "
                  "time. If it is dead (its job was cancelled or killed and its process is "
                  f"gone), break the lock: `bluegreen lock release{where} --project-name "
                  f"{self.project}`, or run the Action once with `break-lock: true`"))
