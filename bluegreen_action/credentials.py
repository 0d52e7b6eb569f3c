"""The Action's secrets on disk, for as short a time as possible.

A private folder (mode 0700, under the container's own /tmp, never the mounted workspace)
holds the SSH key (0600), the known_hosts lines and, for a registry login, a temporary
`DOCKER_CONFIG`. Everything is removed when the deploy ends, on failure, and on SIGTERM or
SIGINT (the entrypoint turns those into an exception, so `with` blocks unwind; as PID 1 in a
container, Python would otherwise ignore SIGTERM). The registry password reaches
`docker login` over stdin, never in argv; the key and the password are never logged.
"""
from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from .errors import ConnectionError_, InputError

# Never handed to docker/compose/ssh child processes: the action's own inputs (the key and
# the registry password among them) and the runner's tokens.
_DROPPED_PREFIXES = ("INPUT_",)
_DROPPED = {"ACTIONS_RUNTIME_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_URL",
            "DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG"}


def child_env(env: Mapping[str, str]) -> dict[str, str]:
    """The environment for docker/compose/ssh: the job's, less the action's inputs and tokens
    (a compose file may still interpolate the workflow's own `env:` variables)."""
    return {k: v for k, v in env.items()
            if k not in _DROPPED and not k.startswith(_DROPPED_PREFIXES)}


class Credentials:
    """`with Credentials() as c:` ... `c.ssh_key(text)`, `c.known_hosts(text)`, `c.docker_login(...)`."""

    def __init__(self, parent: str | Path | None = None):
        self._parent = parent
        self.folder: Path | None = None

    def __enter__(self) -> Credentials:
        self.folder = Path(tempfile.mkdtemp(prefix="bluegreen-secrets-", dir=self._parent))
        os.chmod(self.folder, 0o700)
        atexit.register(self.cleanup)
        return self

    def __exit__(self, *exc) -> None:
        self.cleanup()

    def cleanup(self) -> None:
        folder, self.folder = self.folder, None
        if folder is None or not folder.exists():
            return
        for f in folder.rglob("*"):     # overwrite before unlinking: no key left in free blocks
            if f.is_file() and not f.is_symlink():
                try:
                    size = f.stat().st_size
                    with open(f, "r+b") as fh:
                        fh.write(b"\0" * size)
                except OSError:
                    pass
        shutil.rmtree(folder, ignore_errors=True)

    # -- files --------------------------------------------------------------------------------
    def write_private(self, name: str, content: str) -> Path:
        """A file only its owner can read, created with mode 0600 (never wider, not even briefly)."""
        assert self.folder is not None, "use Credentials as a context manager"
        path = self.folder / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(content)
        os.chmod(path, 0o600)
        return path

    def ssh_key(self, content: str) -> Path:
        return self.write_private("id_deploy", content)

    def known_hosts(self, content: str) -> Path:
        return self.write_private("known_hosts", content)

    # -- registry -----------------------------------------------------------------------------
    def docker_login(self, registry: str, username: str, password: str, env: Mapping[str, str],
                     docker: str = "docker") -> dict[str, str]:
        """Log in with the password on stdin into a private DOCKER_CONFIG; return the variables
        that make docker and compose use it. The credentials go from this client to the
        server's engine with each pull, so nothing is stored on the server."""
        assert self.folder is not None, "use Credentials as a context manager"
        config = self.folder / "docker-config"
        config.mkdir(mode=0o700)
        login_env = {**child_env(env), "DOCKER_CONFIG": str(config)}
        try:
            p = subprocess.run([docker, "login", registry, "--username", username,
                                "--password-stdin"], input=password, env=login_env,
                               capture_output=True, text=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise ConnectionError_(f"`docker login {registry}` could not run: {e}",
                                   hint="the action image needs the docker CLI") from None
        if p.returncode != 0:
            out = (p.stdout + p.stderr).replace(password, "***").strip()
            low = out.lower()
            if "unauthorized" in low or "denied" in low or "incorrect" in low or "401" in low:
                raise InputError(
                    f"the registry {registry} refused registry-username `{username}` and "
                    "registry-password", evidence=out[-800:],
                    hint="check the secret behind registry-password; for ghcr.io use "
                         "`${{ secrets.GITHUB_TOKEN }}` with `permissions: packages: read`, "
                         "or a token with the read:packages scope")
            raise ConnectionError_(f"`docker login {registry}` failed (exit {p.returncode})",
                                   evidence=out[-800:],
                                   hint="check `registry` and that the runner can reach it")
        return {"DOCKER_CONFIG": str(config)}
