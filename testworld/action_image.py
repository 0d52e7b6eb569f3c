"""The GitHub Action's image, built here from the repository's own `Dockerfile`.

No public registry is reachable, and inside a container HTTPS to PyPI fails, so the
Dockerfile's two build arguments are used the way a test needs them:
- `BASE_IMAGE`: a Debian 13 (trixie) base with python3 + venv, debootstrapped here once
  per machine and imported as `local/debian:trixie-python` (what `python:3.x-slim` is:
  Debian 13 with Python);
- `WHEELS`: a folder of the build context holding wheels built on the host (the package)
  and downloaded for the image's Python (its dependencies), installed with `--no-index`.

Where Docker Hub and PyPI are reachable from containers (a GitHub runner), set
`BLUEGREEN_ACTION_BASE_IMAGE=python:3.12-slim`: the image is then built exactly as the runner
builds it for users (that base, no WHEELS: the package and its dependencies from PyPI).

The image is rebuilt only when its inputs change (Dockerfile, package sources, dependency
wheels, base image id): their hash is the label `org.bluegreen.world.hash`.

    python -m testworld.action_image        # build (or reuse) and print the image name
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from .common import REPO_ROOT, local_env, log, run, state_dir
from .images import HASH_LABEL, cache_dir, debootstrap_image, image_id, image_label

TRIXIE_PYTHON = "local/debian:trixie-python"
ACTION_IMAGE = "local/bluegreen-action:test"
# What the Dockerfile's build copies from the repository (the rest is in .dockerignore).
SOURCES = ("Dockerfile", ".dockerignore", "pyproject.toml", "README.md", "entrypoint.py",
           "bluegreen_action")


def ensure_trixie_python() -> str:
    """Debian 13 minbase + python3 + python3-venv as a local image (~1 min, once)."""
    return debootstrap_image(TRIXIE_PYTHON, "trixie", "python3,python3-venv,ca-certificates",
                             "python3", cache_dir() / "debian-trixie-python.tar",
                             "debootstrap-trixie")


def _python_of(image: str) -> str:
    """`3.13` for the image's python3."""
    out = run(["docker", "run", "--rm", "--entrypoint", "python3", image, "-c",
               "import sys; print(f'{sys.version_info[0]}.{sys.version_info[1]}')"]).stdout
    return out.strip()


def _source_files() -> list[Path]:
    files = []
    for name in SOURCES:
        p = REPO_ROOT / name
        if p.is_dir():
            files += sorted(f for f in p.rglob("*") if f.is_file() and "__pycache__" not in f.parts)
        elif p.exists():
            files.append(p)
    return files


def _wheels(dest: Path, python: str) -> None:
    """The package's wheel (built on the host) and its dependencies' wheels for `python`."""
    dest.mkdir(parents=True)
    pip = [sys.executable, "-m", "pip"]
    run([*pip, "wheel", "-q", "--no-deps", "-w", dest, REPO_ROOT], timeout=600)
    own = next(dest.glob("bluegreen_action-*.whl"))
    run([*pip, "download", "-q", "--only-binary=:all:", "--python-version", python,
         "--implementation", "cp", "--platform", "manylinux2014_x86_64",
         "--platform", "manylinux_2_28_x86_64", "--platform", "linux_x86_64",
         "-d", dest, own], timeout=600)


def ensure_action_image(tag: str = ACTION_IMAGE) -> str:
    """Build the action image from the repository's Dockerfile unless its inputs are unchanged."""
    public_base = os.environ.get("BLUEGREEN_ACTION_BASE_IMAGE")
    base = public_base or ensure_trixie_python()
    h = hashlib.sha256((public_base or image_id(base) or "").encode())
    for f in _source_files():
        h.update(str(f.relative_to(REPO_ROOT)).encode() + b"\0" + hashlib.sha256(f.read_bytes()).digest())
    digest = h.hexdigest()[:32]
    if image_label(tag, HASH_LABEL) == digest:
        return tag
    ctx = state_dir() / "build" / "action-image"
    if ctx.exists():
        shutil.rmtree(ctx)
    ctx.mkdir(parents=True)
    for name in SOURCES:
        src = REPO_ROOT / name
        if src.is_dir():
            shutil.copytree(src, ctx / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.exists():
            shutil.copy2(src, ctx / name)
    args = ["--build-arg", f"BASE_IMAGE={base}"]
    if public_base:
        log(f"docker build {tag} (base {base}, packages from PyPI: as the runner builds it)")
    else:
        _wheels(ctx / "wheels", _python_of(base))
        args += ["--build-arg", "WHEELS=wheels"]
        log(f"docker build {tag} (base {base}, wheels from the host)")
    t0 = time.monotonic()
    run(["docker", "build", "-q", "-t", tag, "--label", f"{HASH_LABEL}={digest}", *args, ctx],
        env=local_env(DOCKER_BUILDKIT="0"), timeout=900)
    log(f"built {tag} in {time.monotonic() - t0:.0f}s")
    shutil.rmtree(ctx)
    return tag


def main() -> int:
    from .engine import ensure_engine

    ensure_engine()
    print(ensure_action_image())
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (RuntimeError, subprocess.SubprocessError) as e:
        print(e, file=sys.stderr)
        sys.exit(1)
