"""`World`: the whole test world, brought up idempotently, and what tests need to use it."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import engine, host_b, images, sshd, stacks
from . import registry as registries
from .common import local_env, log, run, state_dir, world_lock


@dataclass
class SecondHost:
    """Host B: sshd on 127.0.0.1:2223 in front of its own Docker Engine (see host_b.py).
    Deploys reach it over SSH like host A; `docker()` here talks to engine B directly, for
    tests to look at what a deploy did."""
    host: str = sshd.HOST
    port: int = host_b.PORT
    user: str = sshd.DEPLOY_USER
    known_hosts: Path = None       # host B's line
    known_hosts_all: Path = None   # host A's and host B's lines, for a fleet
    docker_socket: str = host_b.SOCKET
    publish_ip: str | None = host_b.PUBLISH_IP   # where its published ports appear; None:
    # on this engine (>= 28) host B cannot publish a port host A publishes (see host_b.py)

    @property
    def available(self) -> bool:
        return host_b.sshd_answers() and host_b.engine_answers()

    def url(self, port: int, path: str = "/") -> str:
        return f"http://{self.publish_ip}:{port}{path}"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def docker(self, *args, check=True, timeout=300, input=None):
        return run(["docker", *args], input=input, env=host_b.local_env_b(), check=check,
                   timeout=timeout)

    def compose(self, compose_file, *args, project: str, check=True, timeout=300):
        path = Path(compose_file)
        path = path if path.is_file() else path / "compose.yaml"
        return run(["docker", "compose", "-p", project, "-f", path, *args],
                   env=host_b.local_env_b(), cwd=path.parent, check=check, timeout=timeout)


@dataclass
class World:
    state_dir: Path
    host: str = sshd.HOST
    port: int = sshd.PORT
    user: str = sshd.DEPLOY_USER
    nodocker_user: str = sshd.NODOCKER_USER
    client_key: Path = None
    known_hosts: Path = None
    ssh_config: Path = None
    bin_dir: Path = None
    registry: str = f"{registries.HOST}:{registries.PLAIN_PORT}"
    auth_registry: str = f"{registries.HOST}:{registries.AUTH_PORT}"
    auth_user: str = registries.AUTH_USER
    auth_password_file: Path = None
    docker_config: Path = None  # a DOCKER_CONFIG dir logged in to the auth registry
    engine_started: bool = False  # True if this world started dockerd
    images: dict = field(default_factory=dict)
    host_b: SecondHost = None      # the second test host (its own sshd and Docker Engine)

    # --- construction ----------------------------------------------------------------------

    @classmethod
    def load(cls) -> World:
        """The world's paths and names, without checking or starting anything."""
        p = sshd.paths()
        state = state_dir()
        return cls(
            state_dir=state, client_key=p["client_key"], known_hosts=p["known_hosts"],
            ssh_config=p["ssh_config"], bin_dir=p["bin"],
            auth_password_file=registries.password_file(), docker_config=state / "docker-config",
            engine_started=engine.started_by_world(),
            host_b=SecondHost(known_hosts=host_b.paths()["known_hosts"],
                              known_hosts_all=host_b.paths()["known_hosts_all"],
                              publish_ip=host_b.PUBLISH_IP if host_b.publishes_apart() else None),
            images={
                "debian": images.DEBIAN, "caddy_busybox": images.CADDY_BUSYBOX,
                "caddy_curl": images.CADDY_CURL, "haproxy": images.HAPROXY,
                "haproxy_official": images.HAPROXY_OFFICIAL,
                **{f"app_{t}": images.app_image(t) for t in images.APP_VERSIONS},
            },
        )

    @classmethod
    def ensure(cls, haproxy: bool | None = None, second_host: bool | None = None) -> World:
        """Bring every part up (skipping what is there) and return the world. The second
        host (~1 s to start) is skipped with second_host=False or BLUEGREEN_WORLD_HOST_B=0."""
        if haproxy is None:
            haproxy = os.environ.get("BLUEGREEN_WORLD_HAPROXY", "1") != "0"
        if second_host is None:
            second_host = os.environ.get("BLUEGREEN_WORLD_HOST_B", "1") != "0"
        t0 = time.monotonic()
        with world_lock():  # several test sessions may share one machine
            engine.ensure_engine()
            registries.ensure_registries()
            sshd.ensure_sshd()
            if second_host:
                try:
                    host_b.ensure()
                except Exception as e:  # noqa: BLE001 - the one-host tests still run
                    log(f"host B is unavailable, the tests that need it will skip: {e}")
            world = cls.load()
            world._login_auth_registry()
            images.ensure_base_images(haproxy=haproxy)
            images.ensure_app_images([
                (world.registry, None, None),
                (world.auth_registry, (world.auth_user, world.auth_password),
                 world.docker_config),
            ])
            world._check_remote()
        log(f"world ready in {time.monotonic() - t0:.1f}s (state: {world.state_dir})")
        return world

    # --- credentials and environments ------------------------------------------------------

    @property
    def auth_password(self) -> str:
        return self.auth_password_file.read_text().strip()

    @property
    def docker_host(self) -> str:
        return f"ssh://{self.user}@{self.host}:{self.port}"

    def remote_env(self, user: str | None = None, base: dict | None = None) -> dict:
        """Env for docker/compose against the SSH remote: our ssh wrapper first on PATH."""
        env = dict(os.environ if base is None else base)
        env.pop("DOCKER_CONTEXT", None)
        env["PATH"] = f"{self.bin_dir}{os.pathsep}{env.get('PATH', os.defpath)}"
        env["DOCKER_HOST"] = f"ssh://{user or self.user}@{self.host}:{self.port}"
        return env

    def _login_auth_registry(self) -> None:
        """Log the world's own DOCKER_CONFIG in to the auth registry (root's stays untouched)."""
        self.docker_config.mkdir(mode=0o700, exist_ok=True)
        run(["docker", "login", self.auth_registry, "-u", self.auth_user, "--password-stdin"],
            input=self.auth_password, env=local_env(DOCKER_CONFIG=str(self.docker_config)))

    def _check_remote(self) -> None:
        proc = self.docker("info", "--format", "{{.ServerVersion}}", check=False, timeout=60)
        if proc.returncode != 0:
            raise RuntimeError(f"docker over {self.docker_host} failed: {proc.stderr.strip()}")

    # --- running things against the remote ------------------------------------------------

    def docker(self, *args, check=True, timeout=300, input=None, user=None, env=None):
        """`docker ARGS` against the SSH remote; returns the CompletedProcess (text)."""
        return run(["docker", *args], input=input, env=self.remote_env(user, env),
                   check=check, timeout=timeout)

    def compose(self, stack_dir, *args, project: str, check=True, timeout=300, input=None,
                env=None):
        """`docker compose -p PROJECT -f STACK/compose.yaml ARGS` against the SSH remote.

        stack_dir is a folder holding compose.yaml, or the compose file itself.
        """
        path = Path(stack_dir)
        compose_file = path if path.is_file() else path / "compose.yaml"
        return run(["docker", "compose", "-p", project, "-f", compose_file, *args], input=input,
                   env=self.remote_env(base=env), cwd=compose_file.parent, check=check,
                   timeout=timeout)

    def render_stack(self, kind: str, dest_dir, app: str = "zdd", port: int = 18080,
                     tag: str = "v1", boot_delay: float = 3) -> Path:
        """Render stack `kind` (see `stacks.KINDS`) into dest_dir; returns compose.yaml."""
        return stacks.render(kind, dest_dir, app=app, port=port, tag=tag, boot_delay=boot_delay,
                             registry=self.registry)

    def app_image(self, tag: str, auth: bool = False) -> str:
        return images.app_image(tag, self.auth_registry if auth else self.registry)

    # --- status and teardown ---------------------------------------------------------------

    def status(self) -> dict:
        return {
            "engine": "up" if engine.engine_answers() else "down",
            "engine_started_by_world": engine.started_by_world(),
            "sshd": "up" if sshd.answers() else "down",
            "host_b": {"engine": "up" if host_b.engine_answers() else "down",
                       "sshd": "up" if host_b.sshd_answers() else "down",
                       "address": self.host_b.address if self.host_b else None},
            "registry": registries.status_of(registries.PLAIN_PORT) == 200,
            "auth_registry": registries.status_of(registries.AUTH_PORT) == 401,
            "images": {name: bool(images.image_id(ref)) for name, ref in self.images.items()},
            "state_dir": str(self.state_dir),
        }

    def down(self, engine_too: bool = False) -> None:
        """Stop the world's containers (compose projects from the sample images), sshd and
        registries. dockerd is stopped only if asked and only if the world started it."""
        if engine.engine_answers():
            ids = run(["docker", "ps", "-aq", "--filter", "label=com.docker.compose.project"],
                      check=False).stdout.split()
            mine = []
            for cid in ids:
                image = run(["docker", "inspect", "-f", "{{.Config.Image}}", cid],
                            check=False).stdout.strip()
                if image.startswith(f"{self.registry}/") or image.startswith(f"{self.auth_registry}/"):
                    mine.append(cid)
            if mine:
                log(f"removing {len(mine)} world container(s)")
                subprocess.run(["docker", "rm", "-f", "-v", *mine], env=local_env(),
                               capture_output=True)
        if host_b.sshd_answers() or host_b.engine_answers():
            removed = host_b.remove_world_containers()
            if removed:
                log(f"removed {removed} container(s) on engine B")
            if host_b.stop_sshd():
                log("sshd B stopped")
        if sshd.stop_sshd():
            log("sshd stopped")
        for port in registries.stop_registries():
            log(f"registry on {port} stopped")
        if engine_too and host_b.stop_engine():
            log("engine B stopped")
        if engine_too and engine.stop_engine():
            log("dockerd stopped")
