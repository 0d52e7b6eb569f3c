"""The deploy history of each host: when, who or which run, old and new tag, result.

It lives on the server and is reached through Docker alone, so it needs nothing but the
Docker access a deploy has: one JSON line per deploy or rollback in the named volume
`bluegreen-history`, a file per compose project. The file is read and written with the
Docker archive API through a helper container that is created but never started (so any
image on the host serves, with or without a shell), and removed right after.

Entries and their selection are pure; `HistoryStore` is the small Docker adapter.
"""
from __future__ import annotations

import io
import json
import tarfile
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

import docker.errors

VOLUME = "bluegreen-history"
MOUNT = "/history"
HELPER_LABEL = "org.bluegreen.helper"
KEEP_ENTRIES = 500          # per project; older lines are dropped when the file is written


@dataclass(frozen=True)
class Origin:
    """Who started a deploy: the GitHub run when there is one, else user@machine."""
    who: str
    run_url: str = ""
    ref: str = ""
    sha: str = ""

    def describe(self) -> str:
        parts = [self.who]
        if self.ref:
            parts.append(f"ref {self.ref}")
        if self.sha:
            parts.append(self.sha[:12])
        return ", ".join(parts)


def origin_from_env(env: Mapping[str, str], machine: str = "") -> Origin:
    """The front doors call this with their environment (GITHUB_* when in Actions)."""
    if env.get("GITHUB_RUN_ID") and env.get("GITHUB_REPOSITORY"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
        url = f"{server}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']}"
        if env.get("GITHUB_RUN_ATTEMPT", "1") not in ("", "1"):
            url += f"/attempts/{env['GITHUB_RUN_ATTEMPT']}"
        workflow = env.get("GITHUB_WORKFLOW", "")
        who = env.get("GITHUB_ACTOR", "") or "github-actions"
        return Origin(f"{who} ({workflow})" if workflow else who, url,
                      env.get("GITHUB_REF_NAME", ""), env.get("GITHUB_SHA", ""))
    user = env.get("USER") or env.get("LOGNAME") or "unknown"
    return Origin(f"{user}@{machine}" if machine else user)


@dataclass(frozen=True)
class HistoryEntry:
    time: str                   # ISO 8601, UTC, seconds
    action: str                 # deploy | rollback
    project: str
    host: str
    result: str                 # success | failed | rolled-back
    new_tag: str
    old_tag: str | None = None
    strategy: str = ""
    seconds: float = 0.0
    who: str = ""
    run_url: str = ""
    ref: str = ""
    sha: str = ""
    images: dict[str, str] = field(default_factory=dict)   # service -> image after, on success
    error: str = ""

    def to_json(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if v not in ("", None, {})},
                          sort_keys=True)

    @classmethod
    def from_json(cls, line: str) -> HistoryEntry | None:
        try:
            raw = json.loads(line)
            known = {k: raw[k] for k in cls.__dataclass_fields__ if k in raw}
            return cls(**known)
        except (ValueError, TypeError):
            return None      # a torn or foreign line is skipped, never fatal


def now_utc(epoch: float | None = None) -> str:
    t = datetime.fromtimestamp(time.time() if epoch is None else epoch, tz=timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def make_entry(*, action: str, project: str, host: str, result: str, new_tag: str,
               old_tag: str | None, origin: Origin, strategy: str = "", seconds: float = 0.0,
               images: Mapping[str, str] | None = None, error: str = "",
               epoch: float | None = None) -> HistoryEntry:
    return HistoryEntry(time=now_utc(epoch), action=action, project=project, host=host,
                        result=result, new_tag=new_tag, old_tag=old_tag, strategy=strategy,
                        seconds=round(seconds, 1), who=origin.who, run_url=origin.run_url,
                        ref=origin.ref, sha=origin.sha, images=dict(images or {}),
                        error=error[:300])


def parse_lines(text: str) -> list[HistoryEntry]:
    """Oldest first, as stored."""
    return [e for line in text.splitlines() if line.strip()
            if (e := HistoryEntry.from_json(line)) is not None]


def render_lines(entries: list[HistoryEntry]) -> str:
    return "".join(e.to_json() + "\n" for e in entries[-KEEP_ENTRIES:])


def deployed_tags(entries: list[HistoryEntry]) -> list[str]:
    """Tags that served after a deploy or rollback, newest first, each once: what
    `keep-images` counts. A successful deploy also vouches for the tag it replaced (the
    previous version, which a rollback returns to)."""
    tags: list[str] = []
    for e in reversed(entries):
        if e.result != "success":
            continue
        for tag in (e.new_tag, e.old_tag):
            if tag and tag not in tags:
                tags.append(tag)
    return tags


def format_table(entries: list[HistoryEntry], limit: int = 20) -> str:
    """Newest first, for the terminal."""
    rows = [("WHEN (UTC)", "ACTION", "CHANGE", "RESULT", "TOOK", "BY")]
    for e in list(reversed(entries))[:limit]:
        change = f"{e.old_tag or '(none)'} -> {e.new_tag}"
        by = e.who + (f" {e.run_url}" if e.run_url else "")
        rows.append((e.time.replace("T", " ").rstrip("Z"), e.action
                     + (f" ({e.strategy})" if e.strategy else ""), change, e.result,
                     f"{e.seconds:.1f}s", by))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1]
                     for r in rows)


# -- the Docker adapter -------------------------------------------------------------------

class HistoryStore:
    """The project's history file in the host's `bluegreen-history` volume."""

    def __init__(self, client, project: str, helper_image: str | None = None):
        self.client = client
        self.project = project
        self._helper_image = helper_image

    @property
    def file_name(self) -> str:
        return f"{self.project}.jsonl"

    def read(self) -> list[HistoryEntry]:
        try:
            self.client.volumes.get(VOLUME)
        except docker.errors.NotFound:
            return []
        with self._helper(read_only=True) as c:
            return parse_lines(_read_file(c, f"{MOUNT}/{self.file_name}"))

    def append(self, entry: HistoryEntry) -> list[HistoryEntry]:
        """Add an entry; returns the whole history, oldest first."""
        return self.append_and_read_all(entry)[self.project]

    def append_and_read_all(self, entry: HistoryEntry) -> dict[str, list[HistoryEntry]]:
        """Add an entry; returns every project's history on the host by project name (this
        one's with the entry), read in the same helper container. The deploy lock keeps two
        writers of one project apart."""
        self.client.volumes.create(VOLUME, labels={"org.bluegreen.purpose": "deploy history"})
        with self._helper(read_only=False) as c:
            histories = {name.removesuffix(".jsonl"): parse_lines(text)
                         for name, text in _read_dir(c, MOUNT).items() if name.endswith(".jsonl")}
            entries = histories.get(self.project, []) + [entry]
            c.put_archive(MOUNT, _tar(self.file_name, render_lines(entries).encode()))
        histories[self.project] = entries
        return histories

    def _image(self) -> str:
        if self._helper_image:
            return self._helper_image
        mine = self.client.containers.list(
            all=True, sparse=True, filters={"label": f"com.docker.compose.project={self.project}"})
        for c in mine:
            image = c.attrs.get("ImageID") or c.attrs.get("Image")
            if image:
                return image
        images = self.client.images.list()
        if not images:
            raise RuntimeError("no image on the host to create the history helper from")
        return images[0].id

    def _helper(self, read_only: bool):
        return _Helper(self.client, self._image(), read_only)


class _Helper:
    """A created, never started container with the history volume mounted."""

    def __init__(self, client, image: str, read_only: bool):
        self.client, self.image, self.read_only = client, image, read_only
        self.container = None

    def __enter__(self):
        self.container = self.client.containers.create(
            self.image, command=["true"], network_disabled=True,
            labels={HELPER_LABEL: "history"},
            volumes={VOLUME: {"bind": MOUNT, "mode": "ro" if self.read_only else "rw"}})
        return self.container

    def __exit__(self, *exc):
        try:
            self.container.remove(force=True)
        except docker.errors.APIError:
            pass


def _read_file(container, path: str) -> str:
    try:
        stream, _ = container.get_archive(path)
    except docker.errors.NotFound:
        return ""
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tf:
        member = next((m for m in tf.getmembers() if m.isfile()), None)
        f = tf.extractfile(member) if member else None
        return f.read().decode(errors="replace") if f else ""


def _read_dir(container, path: str) -> dict[str, str]:
    """The files directly in `path`, by name."""
    try:
        stream, _ = container.get_archive(path + "/.")
    except docker.errors.NotFound:
        return {}
    files = {}
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tf:
        for m in tf.getmembers():
            name = m.name.removeprefix("./")
            if m.isfile() and "/" not in name and (f := tf.extractfile(m)) is not None:
                files[name] = f.read().decode(errors="replace")
    return files


def _tar(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = len(data), int(time.time()), 0o644
        tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()
