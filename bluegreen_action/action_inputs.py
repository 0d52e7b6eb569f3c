"""The Action's inputs: read from the environment as the runner passes them, validated
all at once before anything touches the server.

The runner hands each input `name` to the container as `INPUT_<NAME>`: upper-cased, hyphens
kept (`INPUT_SSH-KEY`). Inputs the workflow leaves out arrive empty or not at all; the
defaults below apply then, and they match action.yml's (a unit test checks that), so that
`python entrypoint.py` with the same variables behaves like the container.

Every problem names its input and the form expected; all problems are reported together.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

from .errors import InputError
from .image_ref import valid_tag
from .plan import split_command

# name -> default ("" = none). The order is the order problems are reported in.
INPUTS: dict[str, str] = {
    "host": "",
    "port": "22",
    "user": "deploy",
    "ssh-key": "",
    "known-hosts": "",
    "insecure-skip-host-key-check": "false",
    "tag": "",
    "services": "",
    "compose-file": "compose.yaml",
    "project-name": "",
    "proxy-service": "",
    "proxy-kind": "",
    "health-timeout": "120",
    "drain-timeout": "30",
    "health-path": "/",
    "registry": "",
    "registry-username": "",
    "registry-password": "",
    "dry-run": "false",
    "lock-timeout": "300",
    "break-lock": "false",
    "hosts": "",
    "strategy": "rolling",
    "keep-images": "3",
    "command": "deploy",
    "pre-deploy": "",
    "pre-deploy-timeout": "600",
}
SECRET_INPUTS = ("ssh-key", "registry-password")

KEY_TYPES = {
    "ssh-ed25519", "ssh-rsa", "ssh-dss", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521", "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com",
}
HOST_RE = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})"
                     r"(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}))*\.?$")
USER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,31}$")
SERVICE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
PROJECT_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
SECONDS_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m)?$")
REGISTRY_RE = re.compile(r"^[A-Za-z0-9.-]+(?::\d{1,5})?$")
TRUE, FALSE = ("true", "True", "TRUE"), ("false", "False", "FALSE")


@dataclass(frozen=True)
class ActionInputs:
    host: str
    port: int
    user: str
    ssh_key: str                      # the private key, normalized (LF, final newline)
    known_hosts: str | None           # known_hosts lines; None only with the opt-out
    insecure_skip_host_key_check: bool
    tag: str
    services: tuple[str, ...]
    compose_file: Path                # absolute, inside the workspace
    project_name: str | None
    repo_name: str | None             # from GITHUB_REPOSITORY
    proxy_service: str | None
    proxy_kind: str | None
    health_timeout: float
    drain_timeout: float
    health_path: str
    registry: str | None
    registry_username: str | None
    registry_password: str | None
    dry_run: bool
    lock_timeout: float
    break_lock: bool
    workspace: Path
    warnings: tuple[tuple[str, str], ...] = field(default=())   # (input, message)
    hosts: tuple[tuple[str, int, str], ...] = ()   # (host, port, user), the canary first
    strategy: str = "rolling"
    keep_images: int = 3
    pre_deploy: tuple[str, ...] = ()
    pre_deploy_timeout: float = 600.0
    command: str = "deploy"          # deploy | rollback

    @property
    def target_display(self) -> str:
        if len(self.hosts) > 1:
            return ", ".join(f"{u}@{h}:{p}" for h, p, u in self.hosts)
        return f"{self.user}@{self.host}:{self.port}"


class InvalidInput(InputError):
    """One bad input."""

    def __init__(self, name: str, message: str, expected: str):
        super().__init__(f"input `{name}`: {message}", hint=f"expected {expected}")
        self.input = name
        self.title = f"Invalid input `{name}`"


class InvalidInputs(InputError):
    """Every bad input at once (exit code 2 like any InputError)."""

    def __init__(self, problems: list[InvalidInput]):
        names = ", ".join(f"`{p.input}`" for p in problems)
        super().__init__(f"{len(problems)} invalid input{'s' if len(problems) > 1 else ''}: {names}",
                         hint="fix the inputs in the workflow's `with:` block; nothing on the "
                              "server was touched")
        self.problems = problems


def raw_input(env: Mapping[str, str], name: str) -> str:
    """What the runner passed for `name` (or the default), outer whitespace trimmed."""
    value = env.get(f"INPUT_{name.upper()}")
    if value is None or not value.strip():
        return INPUTS.get(name, "")
    return value.strip()


def secret_values(env: Mapping[str, str]) -> list[str]:
    """The raw values of the secret inputs: masked before anything else is printed."""
    return [v for name in SECRET_INPUTS if (v := env.get(f"INPUT_{name.upper()}", "").strip())]


def read_inputs(env: Mapping[str, str], cwd: Path | None = None) -> ActionInputs:
    """Validate every input; raise InvalidInputs listing each bad one."""
    problems: list[InvalidInput] = []
    warnings: list[tuple[str, str]] = []
    v = _Validator(env, problems)

    command = v.choice("command", ("deploy", "rollback")) or "deploy"
    host = "" if v.get("hosts") else v.host()
    port = v.port()
    user = v.user()
    hosts = v.hosts(port, user)
    if hosts:
        host, port, user = hosts[0]
    elif host and port:
        hosts = ((host, port, user),)
    insecure = v.boolean("insecure-skip-host-key-check")
    ssh_key = v.ssh_key()
    known_hosts = v.known_hosts(host, port, insecure)
    for h, p, _u in hosts[1:]:
        if known_hosts is not None:
            v.known_hosts(h, p, insecure)
    if insecure:
        warnings.append(("insecure-skip-host-key-check",
                         "insecure-skip-host-key-check is true: the server's identity is not "
                         "checked, so anyone who can intercept the connection receives the deploy "
                         "and its registry credentials. Set known-hosts instead (see "
                         "`ssh-keyscan` in the docs)."))
    tag = v.tag() if command == "deploy" else ""
    services = v.services()
    strategy = v.choice("strategy", ("rolling", "blue-green")) or "rolling"
    keep_images = v.whole_number("keep-images")
    workspace = Path(env.get("GITHUB_WORKSPACE") or cwd or Path.cwd())
    compose_file = v.compose_file(workspace)
    project_name = v.optional("project-name", PROJECT_RE,
                              "lowercase letters, digits, '-' and '_', starting with a letter or "
                              "digit, e.g. `myapp`")
    proxy_service = v.optional("proxy-service", SERVICE_RE,
                               "the name of the Caddy or HAProxy service in the compose file, "
                               "e.g. `caddy`")
    proxy_kind = v.choice("proxy-kind", ("caddy", "haproxy"))
    health_timeout = v.seconds("health-timeout")
    drain_timeout = v.seconds("drain-timeout")
    health_path = v.health_path()
    registry, reg_user, reg_password = v.registry()
    dry_run = v.boolean("dry-run")
    lock_timeout = v.seconds("lock-timeout", allow_zero=True)
    break_lock = v.boolean("break-lock")
    pre_deploy = v.command("pre-deploy")
    pre_deploy_timeout = v.seconds("pre-deploy-timeout")
    repo = env.get("GITHUB_REPOSITORY", "")
    repo_name = repo.rsplit("/", 1)[-1] or None

    known = {f"INPUT_{n.upper()}" for n in INPUTS}
    for key in sorted(env):
        if key.startswith("INPUT_") and key not in known:
            name = key[len("INPUT_"):].lower()
            close = [n for n in INPUTS if n.replace("-", "_") == name.replace("-", "_")]
            warnings.append((name, f"unknown input `{name}` is ignored"
                             + (f" (did you mean `{close[0]}`?)" if close else "")))

    if problems:
        raise InvalidInputs(problems)
    return ActionInputs(
        host=host, port=port, user=user, ssh_key=ssh_key, known_hosts=known_hosts,
        insecure_skip_host_key_check=insecure, tag=tag, services=services,
        compose_file=compose_file, project_name=project_name, repo_name=repo_name,
        proxy_service=proxy_service, proxy_kind=proxy_kind, health_timeout=health_timeout,
        drain_timeout=drain_timeout, health_path=health_path, registry=registry,
        registry_username=reg_user, registry_password=reg_password, dry_run=dry_run,
        lock_timeout=lock_timeout, break_lock=break_lock,
        workspace=workspace, warnings=tuple(warnings), hosts=hosts, strategy=strategy,
        keep_images=keep_images, command=command, pre_deploy=pre_deploy,
        pre_deploy_timeout=pre_deploy_timeout)


class _Validator:
    def __init__(self, env: Mapping[str, str], problems: list[InvalidInput]):
        self.env = env
        self.problems = problems

    def get(self, name: str) -> str:
        return raw_input(self.env, name)

    def bad(self, name: str, message: str, expected: str):
        self.problems.append(InvalidInput(name, message, expected))
        return None

    # -- generic ----------------------------------------------------------------------------
    def boolean(self, name: str) -> bool:
        value = self.get(name)
        if value in TRUE:
            return True
        if value not in FALSE:
            self.bad(name, f"{value!r} is not a boolean", "`true` or `false`")
        return False

    def optional(self, name: str, pattern: re.Pattern, expected: str) -> str | None:
        value = self.get(name)
        if not value:
            return None
        if not pattern.match(value):
            return self.bad(name, f"{value!r} is not valid", expected)
        return value

    def choice(self, name: str, choices: tuple[str, ...]) -> str | None:
        value = self.get(name)
        if value and value not in choices:
            return self.bad(name, f"{value!r} is not one of {', '.join(choices)}",
                            " or ".join(f"`{c}`" for c in choices) + " (or leave it out to detect it)")
        return value or None

    def seconds(self, name: str, allow_zero: bool = False) -> float:
        value = self.get(name)
        m = SECONDS_RE.match(value)
        seconds = float(m.group(1)) * (60 if m.group(2) == "m" else 1) if m else -1.0
        if not m or not (0 <= seconds if allow_zero else 0 < seconds) or seconds > 3600:
            self.bad(name, f"{value!r} is not a number of seconds between "
                     f"{0 if allow_zero else 1} and 3600",
                     f"seconds, e.g. `{INPUTS[name]}`, `90s` or `2m`")
            return float(INPUTS[name])
        return seconds

    def command(self, name: str) -> tuple[str, ...]:
        try:
            return split_command(self.get(name))
        except ValueError as e:
            self.bad(name, f"cannot split it into words: {e}",
                     "a command line, e.g. `./manage.py migrate` or `sh -c 'a && b'`")
            return ()

    def whole_number(self, name: str) -> int:
        value = self.get(name)
        if not value.isdigit():
            self.bad(name, f"{value!r} is not a whole number", f"e.g. `{INPUTS[name]}`")
            return int(INPUTS[name])
        return int(value)

    # -- connection -------------------------------------------------------------------------
    def hosts(self, port: int | None, user: str) -> tuple[tuple[str, int, str], ...]:
        """`hosts`: several servers, deployed one after the other, the first as a canary."""
        from .fleet import parse_hosts  # the CLI's own rules for a host list
        value = self.get("hosts")
        if not value:
            return ()
        expected = ("servers separated by commas or new lines, each `host`, `host:port` or "
                    "`user@host:port`, e.g. `app1.example.com, app2.example.com:2222`")
        if raw_input(self.env, "host") and self.env.get("INPUT_HOST", "").strip():
            return self.bad("hosts", "is set together with `host`",
                            expected + "; put every server in `hosts` and leave `host` out") or ()
        try:
            specs = parse_hosts(value, default_port=port or 22, default_user=user)
        except InputError as e:
            return self.bad("hosts", e.message, expected) or ()
        for s in specs:
            if not HOST_RE.match(s.host) or not USER_RE.match(s.user):
                return self.bad("hosts", f"{s.host!r} is not a host name", expected) or ()
        return tuple((s.host, s.port, s.user) for s in specs)

    def host(self) -> str:
        value = self.get("host")
        expected = "the server's DNS name or IPv4 address, e.g. `app.example.com` or `203.0.113.7`"
        if not value:
            return self.bad("host", "is required", expected) or ""
        if "://" in value:
            return self.bad("host", f"{value!r} is a URL", expected + ", without `ssh://`") or ""
        if "@" in value:
            return self.bad("host", f"{value!r} holds a user name",
                            expected + "; put the user in the `user` input") or ""
        if value.count(":") == 1 and value.split(":")[1].isdigit():
            return self.bad("host", f"{value!r} holds a port", expected + "; put the port in the "
                            "`port` input") or ""
        try:
            if ipaddress.ip_address(value.strip("[]")).version == 6:
                return self.bad("host", f"{value!r} is an IPv6 address, which is not supported yet",
                                "a DNS name or an IPv4 address") or ""
        except ValueError:
            pass
        if not HOST_RE.match(value) or value.startswith("-"):
            return self.bad("host", f"{value!r} is not a host name", expected) or ""
        return value

    def port(self) -> int | None:
        value = self.get("port")
        if value.isdigit() and 0 < int(value) < 65536:
            return int(value)
        return self.bad("port", f"{value!r} is not a TCP port", "a number from 1 to 65535, e.g. `22`")

    def user(self) -> str:
        value = self.get("user")
        if not USER_RE.match(value):
            self.bad("user", f"{value!r} is not a user name",
                     "the SSH user on the server, in its `docker` group, e.g. `deploy`")
        return value

    def ssh_key(self) -> str:
        raw = self.env.get("INPUT_SSH-KEY", "")
        value = raw.strip()
        expected = ("the private key's text (`-----BEGIN OPENSSH PRIVATE KEY-----` ...), from a "
                    "secret: `ssh-key: ${{ secrets.DEPLOY_SSH_KEY }}`")
        if not value:
            return self.bad("ssh-key", "is required (empty: a secret that is not set, or not "
                            "available to workflows started from forks)", expected) or ""
        if "\n" not in value and "\\n" in value:   # pasted with literal \n escapes
            value = value.replace("\\n", "\n")
        value = value.replace("\r\n", "\n").replace("\r", "\n")
        if re.match(r"^(ssh-|ecdsa-|sk-)", value) and "PRIVATE KEY" not in value:
            return self.bad("ssh-key", "holds a public key", expected + "; the public half goes "
                            "into ~/.ssh/authorized_keys on the server") or ""
        if not re.search(r"^-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----$", value, re.M) \
                or not re.search(r"^-----END [A-Z0-9 ]*PRIVATE KEY-----$", value, re.M):
            what = "a file path" if "\n" not in value and "/" in value else "not a private key"
            return self.bad("ssh-key", f"is {what}", expected) or ""
        if _encrypted_key(value):
            return self.bad("ssh-key", "is protected by a passphrase, which a deploy cannot type",
                            expected + " without a passphrase: make a deploy key with "
                            "`ssh-keygen -t ed25519 -N '' -f deploy_key`") or ""
        return value + "\n"

    def known_hosts(self, host: str, port: int | None, insecure: bool) -> str | None:
        value = self.get("known-hosts")
        expected = ("the server's lines in known_hosts form, e.g. from "
                    f"`ssh-keyscan{' -p ' + str(port) if port and port != 22 else ''} {host or 'HOST'}`, "
                    "checked against the server and stored in a secret or variable")
        if insecure:
            if value:
                self.bad("insecure-skip-host-key-check", "is true while known-hosts is set",
                         "either known-hosts (recommended) or insecure-skip-host-key-check: true, "
                         "not both")
            return None
        if not value:
            return self.bad("known-hosts", "is required to verify the server's identity",
                            expected + " (or, at your own risk, "
                            "`insecure-skip-host-key-check: true`)")
        value = value.replace("\r\n", "\n").replace("\r", "\n")
        entries = []
        for n, line in enumerate(value.splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            entry, why = parse_known_hosts_line(line)
            if entry is None:
                shown = line if len(line) <= 60 else line[:57] + "..."
                return self.bad("known-hosts", f"line {n} ({shown!r}) {why}", expected)
            entries.append(entry)
        if not entries:
            return self.bad("known-hosts", "holds no host key", expected)
        if host and port and not any(e.matches(host, port) for e in entries):   # both valid
            names = sorted({p for e in entries for p in e.patterns if not e.hashed})
            target = host if port == 22 else f"[{host}]:{port}"
            listed = (f"; its lines are for {', '.join(names)}" if names else "")
            return self.bad("known-hosts", f"holds no key for {target}{listed}",
                            expected + (f" (for port {port} the host is written `[{host}]:{port}`)"
                                        if port != 22 else ""))
        return "\n".join(line.strip() for line in value.splitlines() if line.strip()) + "\n"

    # -- what to deploy ---------------------------------------------------------------------
    def tag(self) -> str:
        value = self.get("tag")
        expected = ("an image tag: letters, digits, '_', '.', '-', at most 128, not starting "
                    "with '.' or '-', e.g. `v1.2.3` or `${{ github.ref_name }}`")
        if not value:
            return self.bad("tag", "is required", expected) or ""
        if value.startswith("refs/"):
            return self.bad("tag", f"{value!r} is a git ref, not a tag",
                            expected + " (github.ref_name, not github.ref)") or ""
        if not valid_tag(value):
            return self.bad("tag", f"{value!r} is not a valid image tag", expected) or ""
        return value

    def services(self) -> tuple[str, ...]:
        value = self.get("services")
        expected = ("app names separated by commas, e.g. `web` or `web, api`: `web` means the "
                    "compose services `web-blue` and `web-green`")
        names = [s for s in re.split(r"[\s,]+", value) if s]
        if not names:
            return self.bad("services", "is required", expected) or ()
        for name in names:
            if not SERVICE_RE.match(name):
                return self.bad("services", f"{name!r} is not a service name", expected) or ()
            for colour in ("-blue", "-green"):
                if name.endswith(colour):
                    return self.bad("services", f"{name!r} names a colour",
                                    f"the app name `{name[:-len(colour)]}`; the action replaces "
                                    f"{name[:-len(colour)]}-blue and {name[:-len(colour)]}-green "
                                    "itself") or ()
        return tuple(dict.fromkeys(names))

    def compose_file(self, workspace: Path) -> Path:
        value = self.get("compose-file")
        expected = "a path relative to the repository root, e.g. `compose.yaml` or `deploy/compose.yaml`"
        p = Path(value)
        if p.is_absolute():
            try:
                p = p.relative_to(workspace)
            except ValueError:
                self.bad("compose-file", f"{value!r} is an absolute path outside the workspace "
                         f"({workspace})", expected)
                return workspace / "compose.yaml"
        full = workspace / p
        if full.is_dir():
            self.bad("compose-file", f"{value!r} is a folder", expected)
        elif not full.is_file():
            self.bad("compose-file", f"{value!r} does not exist in the workspace ({workspace})",
                     expected + "; run actions/checkout before this step")
        return full

    def health_path(self) -> str:
        value = self.get("health-path")
        if not value.startswith("/") or any(c.isspace() for c in value):
            self.bad("health-path", f"{value!r} is not an HTTP path",
                     "a path starting with '/', e.g. `/health`")
        return value

    def registry(self) -> tuple[str | None, str | None, str | None]:
        registry = self.get("registry")
        user = self.get("registry-username")
        password = self.env.get("INPUT_REGISTRY-PASSWORD", "").strip()
        expected = "a registry host, e.g. `ghcr.io`, `registry.example.com:5000` or `docker.io`"
        if registry:
            if "://" in registry:
                return self.bad("registry", f"{registry!r} is a URL",
                                expected + ", without `https://`") or (None, None, None)
            if "/" in registry:
                return self.bad("registry", f"{registry!r} holds a path",
                                expected + f" (`{registry.split('/')[0]}`, without "
                                "the image's path)") or (None, None, None)
            if not REGISTRY_RE.match(registry):
                return self.bad("registry", f"{registry!r} is not a registry host",
                                expected) or (None, None, None)
        if not (registry or user or password):
            return None, None, None
        if not registry:
            self.bad("registry", "is required with registry-username and registry-password",
                     expected)
        if not user:
            self.bad("registry-username", "is required to log in to " + (registry or "the registry"),
                     "the registry's user name, e.g. `${{ github.actor }}` for ghcr.io")
        if not password:
            self.bad("registry-password", "is required to log in to " + (registry or "the registry")
                     + " (empty: a secret that is not set?)",
                     "a token or password from a secret, e.g. `${{ secrets.GITHUB_TOKEN }}` for "
                     "ghcr.io (with `packages: read` permission)")
        return registry or None, user or None, password or None


# -- known_hosts ---------------------------------------------------------------------------

@dataclass(frozen=True)
class KnownHost:
    patterns: tuple[str, ...]
    key_type: str
    marker: str | None = None     # @cert-authority | @revoked | None
    hashed: bool = False

    def matches(self, host: str, port: int) -> bool:
        if self.marker == "@revoked":
            return False
        name = host if port == 22 else f"[{host}]:{port}"
        positive = False
        for pattern in self.patterns:
            negated = pattern.startswith("!")
            pattern = pattern[1:] if negated else pattern
            if pattern.startswith("|1|"):
                hit = _hashed_host_matches(pattern, name)
            else:
                hit = fnmatchcase(name.lower(), _glob(pattern.lower()))
            if hit and negated:
                return False
            positive = positive or hit
        return positive


def _glob(pattern: str) -> str:
    """OpenSSH patterns know only `*` and `?`: make `[` literal for fnmatch."""
    return pattern.replace("[", "[[]")


def _hashed_host_matches(pattern: str, name: str) -> bool:
    try:
        _, _, salt, digest = pattern.split("|", 3)
        mac = hmac.new(base64.b64decode(salt), name.encode(), hashlib.sha1).digest()
        return hmac.compare_digest(mac, base64.b64decode(digest))
    except (ValueError, binascii.Error):
        return False


def parse_known_hosts_line(line: str) -> tuple[KnownHost | None, str]:
    """One known_hosts line, or None and why it is not one."""
    parts = line.split()
    marker = None
    if parts and parts[0].startswith("@"):
        marker = parts.pop(0)
        if marker not in ("@cert-authority", "@revoked"):
            return None, f"has an unknown marker {marker}"
    if len(parts) < 3:
        if len(parts) == 1 and "/" in parts[0]:
            return None, "is a file path, not the file's content"
        return None, "is not `host key-type base64-key`"
    hosts, key_type, blob = parts[0], parts[1], parts[2]
    if key_type not in KEY_TYPES:
        return None, f"has an unknown key type {key_type!r}"
    try:
        raw = base64.b64decode(blob, validate=True)
        (n,) = struct.unpack(">I", raw[:4])
        if raw[4:4 + n].decode() != key_type:
            return None, f"has a key that is not of type {key_type}"
    except (binascii.Error, struct.error, UnicodeDecodeError):
        return None, "has a key that is not valid base64"
    patterns = tuple(p for p in hosts.split(",") if p)
    return KnownHost(patterns, key_type, marker, hashed=any(p.startswith("|1|") for p in patterns)), ""


def _encrypted_key(pem: str) -> bool:
    """True for a private key that needs a passphrase."""
    if "ENCRYPTED" in pem:            # PEM: `Proc-Type: 4,ENCRYPTED` or `BEGIN ENCRYPTED ...`
        return True
    m = re.search(r"-----BEGIN OPENSSH PRIVATE KEY-----(.+?)-----END OPENSSH PRIVATE KEY-----",
                  pem, re.S)
    if not m:
        return False
    try:
        raw = base64.b64decode("".join(m.group(1).split()))
    except binascii.Error:
        return False
    magic = b"openssh-key-v1\0"
    if not raw.startswith(magic):
        return False
    try:
        (n,) = struct.unpack(">I", raw[len(magic):len(magic) + 4])
        cipher = raw[len(magic) + 4:len(magic) + 4 + n]
    except struct.error:
        return False
    return cipher != b"none"
