"""The server's Docker Engine, reached through the SSH session: the compose CLI for
pull/up (it knows the compose file's semantics) and the Docker SDK for fast reads,
health, logs and exec."""
from __future__ import annotations

import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors

from .errors import ConnectionError_, DeployError, InputError
from .ssh import SshSession

PROJECT_LABEL = "com.docker.compose.project"
ONEOFF_LABEL = "com.docker.compose.oneoff"
SERVICE_LABEL = "com.docker.compose.service"
SEE_OUTPUT = "see the compose output above"     # compose_hint when the output says nothing known


def is_one_off(labels: dict | None) -> bool:
    """A `docker compose run` container: it carries its service's labels but is not it."""
    return (labels or {}).get(ONEOFF_LABEL) == "True"


class ComposeFailed(DeployError):
    """A compose command exited non-zero."""

    def __init__(self, message: str, returncode: int, **kw):
        super().__init__(message, **kw)
        self.returncode = returncode


@dataclass(frozen=True)
class ContainerState:
    service: str
    name: str
    image: str              # the reference it was created from (Config.Image)
    status: str             # created, running, restarting, exited, ...
    health: str | None      # starting, healthy, unhealthy; None without a healthcheck
    started_at: str

    @property
    def running(self) -> bool:
        return self.status == "running"


def container_state(c) -> ContainerState:
    state = c.attrs.get("State", {})
    return ContainerState(
        service=c.labels.get(SERVICE_LABEL, ""), name=c.name,
        image=c.attrs.get("Config", {}).get("Image", ""), status=state.get("Status", ""),
        health=(state.get("Health") or {}).get("Status"), started_at=state.get("StartedAt", ""))


class RemoteDocker:
    def __init__(self, ssh: SshSession, project: str, project_dir: Path, base_env: dict[str, str],
                 log=lambda line: None):
        self.ssh = ssh
        self.project = project
        self.project_dir = project_dir
        self._env = ssh.env(base_env)
        self._log = log
        try:
            self.client = docker.DockerClient(base_url=self._env["DOCKER_HOST"], timeout=60)
        except docker.errors.DockerException as e:
            self.check_access()      # the reason in words: may not use Docker, not installed...
            raise ConnectionError_(f"cannot reach the Docker Engine on {ssh.target.host} through "
                                   "SSH", evidence=str(e)[-600:],
                                   hint="check that dockerd runs on the server and that sshd "
                                        "allows forwarding (AllowStreamLocalForwarding) or the "
                                        "docker CLI is installed there") from None

    # -- access ---------------------------------------------------------------------------
    def check_access(self) -> str:
        """The server's Docker version, or a clear error when the user cannot use Docker."""
        p = self.ssh.run("docker version --format '{{.Server.Version}}'", timeout=60)
        if p.returncode != 0:
            err = p.stderr.strip()
            t = self.ssh.target
            if "permission denied" in err.lower():
                raise ConnectionError_(
                    f"{t.user} on {t.host} may not use Docker", evidence=err[-600:],
                    hint=f"on the server: `sudo usermod -aG docker {t.user}`, then log in again")
            if "not found" in err.lower():
                raise ConnectionError_(f"docker is not installed on {t.host}", evidence=err[-600:],
                                       hint="install Docker Engine >= 25 with Compose v2 there")
            raise ConnectionError_(f"Docker on {t.host} did not answer", evidence=err[-600:],
                                   hint="check that dockerd runs on the server")
        return p.stdout.strip()

    # -- compose --------------------------------------------------------------------------
    def compose(self, text: str, *args: str, env: dict[str, str] | None = None,
                timeout: float = 900) -> str:
        argv = ["docker", "compose", "-p", self.project, "--project-directory",
                str(self.project_dir), "-f", "-", *args]
        self._log("$ " + shlex.join(argv))
        p = subprocess.run(argv, input=text, capture_output=True, text=True, timeout=timeout,
                           env={**self._env, **(env or {})})
        out = (p.stdout + p.stderr).strip()
        if p.returncode != 0:
            if args[:1] == ("pull",) and (refused := pull_refused(out)):
                raise refused
            raise ComposeFailed(f"`docker compose {' '.join(args)}` failed (exit {p.returncode})",
                                p.returncode, evidence=_tail(out, 25), hint=compose_hint(out))
        return out

    def validate(self, text: str, env: dict[str, str] | None = None) -> None:
        """`docker compose config` checks the file locally, before anything on the server."""
        self.compose(text, "config", "--quiet", env=env, timeout=60)

    # -- containers -----------------------------------------------------------------------
    def project_containers(self) -> dict[str, ContainerState]:
        """service -> state, for the project's containers (the newest per service)."""
        found: dict[str, ContainerState] = {}
        for c in self.client.containers.list(all=True, filters={"label": f"{PROJECT_LABEL}={self.project}"}):
            if is_one_off(c.labels):
                continue
            s = container_state(c)
            if s.service not in found or s.started_at > found[s.service].started_at:
                found[s.service] = s
        return found

    def foreign_containers(self, names: list[str]) -> dict[str, str]:
        """Containers holding one of these names but belonging to another project (or none):
        `docker compose up` would fail on them."""
        clash = {}
        for name in names:
            try:
                c = self.client.containers.get(name)
            except docker.errors.NotFound:
                continue
            owner = c.labels.get(PROJECT_LABEL)
            if owner != self.project:
                clash[name] = owner or "(not compose)"
        return clash

    def state(self, name: str) -> ContainerState | None:
        try:
            return container_state(self.client.containers.get(name))
        except docker.errors.NotFound:
            return None

    def container(self, name: str):
        return self.client.containers.get(name)

    def remove_container(self, name: str) -> None:
        """Force-remove a container if it exists; best effort (used on the way out)."""
        try:
            self.client.containers.get(name).remove(force=True)
        except docker.errors.NotFound:
            pass
        except Exception as e:   # noqa: BLE001 - must not hide the error being raised
            self._log(f"could not remove {name}: {type(e).__name__}: {e}")

    def health_log(self, name: str, last: int = 5) -> str:
        try:
            c = self.client.containers.get(name)
        except docker.errors.NotFound:
            return ""
        entries = ((c.attrs.get("State") or {}).get("Health") or {}).get("Log") or []
        return "\n".join(f"exit {e.get('ExitCode')}: {(e.get('Output') or '').strip()}"
                         for e in entries[-last:])

    def logs(self, name: str, tail: int = 30) -> str:
        try:
            return self.client.containers.get(name).logs(tail=tail).decode(errors="replace")
        except docker.errors.NotFound:
            return ""

    def close(self) -> None:
        self.client.close()


LOGIN_HINT = ("log in to the registry: set registry, registry-username and registry-password "
              "(CLI: --registry, --registry-username, --registry-password-stdin)")


def pull_refused(output: str) -> InputError | None:
    """A pull the registry refused: a tag that is not there, or credentials missing or
    wrong. Bad input (nothing was changed yet), said with the image or registry named."""
    o = output.lower()
    if "manifest unknown" in o or "manifest for" in o and "not found" in o:
        m = re.search(r"manifest for (\S+) not found", output)
        return InputError(f"{m.group(1) if m else 'an image'} is not in the registry",
                          evidence=_tail(output, 10),
                          hint="push that tag first (build and push before deploying), or check "
                               "`tag` and the image names in the compose file")
    if any(w in o for w in ("no basic auth credentials", "unauthorized", "authentication required",
                            "denied")):
        m = re.search(r"https?://([^/\s\"]+)/v2/", output)
        registry = f"the registry {m.group(1)}" if m else "the registry"
        return InputError(f"{registry} refused the pull: no valid credentials",
                          evidence=_tail(output, 10), hint=LOGIN_HINT)
    return None


def compose_hint(output: str) -> str:
    o = output.lower()
    if "manifest unknown" in o or "not found" in o and "pull" in o or "manifest for" in o:
        return "the image or tag does not exist in the registry: push it first, or check `tag`"
    if "unauthorized" in o or "denied" in o or "authentication required" in o \
            or "no basic auth credentials" in o:
        return LOGIN_HINT
    if "is already in use by container" in o:
        return "another project owns a container with that name: set project-name to that project"
    return SEE_OUTPUT


def _tail(text: str, lines: int) -> str:
    return "\n".join(text.splitlines()[-lines:])


