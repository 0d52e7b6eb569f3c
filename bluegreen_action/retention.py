"""Image retention: keep the images of the last N deployed tags on the host, so a rollback
(or a redeploy of the previous tag) needs no pull, and remove the older images of the
app's repositories so the disk does not fill up. An image that any container uses (running
or stopped, of any project) is never removed, nor are the last N deployed tags of another
project on the host that deploys the same repository (its rollback needs them).

The selection is pure; `apply_retention` is the Docker adapter. Images of other
repositories are never looked at.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import docker.errors

from .history import HistoryEntry, deployed_tags
from .image_ref import ImageRef
from .remote_docker import PROJECT_LABEL

DEFAULT_KEEP = 3


@dataclass(frozen=True)
class HostImage:
    id: str
    tags: tuple[str, ...] = ()          # RepoTags: repo:tag
    digests: tuple[str, ...] = ()       # RepoDigests: repo@sha256:...


@dataclass(frozen=True)
class Removal:
    ref: str                 # what `docker rmi` is given: repo:tag, or the id of an untagged image
    reason: str


@dataclass(frozen=True)
class RetentionPlan:
    keep_tags: tuple[str, ...]
    remove: tuple[Removal, ...] = ()
    kept: tuple[str, ...] = ()          # refs of the repositories that stay
    in_use: tuple[str, ...] = ()        # refs outside keep_tags that stay because a container uses them

    def describe(self) -> str:
        if not self.remove:
            return f"image retention: nothing to remove (keeping {', '.join(self.kept) or 'nothing'})"
        return (f"image retention: removing {', '.join(r.ref for r in self.remove)}; keeping "
                f"{', '.join(self.kept) or 'nothing'}")


def keep_tags(deployed: list[str], keep: int, current: Iterable[str] = ()) -> tuple[str, ...]:
    """The newest `keep` deployed tags (newest first), plus the ones given as current."""
    tags = list(dict.fromkeys(list(current) + deployed))
    head = list(dict.fromkeys(deployed))[:keep]
    return tuple(t for t in tags if t in head or t in current)


def kept_for_other_projects(histories: Mapping[str, list[HistoryEntry]], live: set[str],
                            repositories: set[str], keep: int, own: str) -> dict[str, list[str]]:
    """tag -> projects: the newest `keep` deployed tags of every other project that still
    runs on the host and deploys one of these repositories (two stages of one app on one
    server, say), so that retention here never removes what a rollback there needs."""
    kept: dict[str, list[str]] = {}
    for project, entries in sorted(histories.items()):
        uses = any(ImageRef.parse(ref).name in repositories
                   for e in entries for ref in e.images.values())
        if project == own or project not in live or not uses:
            continue
        for tag in deployed_tags(entries)[:keep]:
            kept.setdefault(tag, []).append(project)
    return kept


def select(images: list[HostImage], repositories: set[str], keep: tuple[str, ...],
           used_ids: set[str]) -> RetentionPlan:
    remove: list[Removal] = []
    kept: list[str] = []
    in_use: list[str] = []
    for img in images:
        mine = [ref for ref in img.tags if ImageRef.parse(ref).name in repositories]
        used = img.id in used_ids
        if not mine:
            untagged_mine = not img.tags and any(
                d.split("@", 1)[0] in repositories for d in img.digests)
            if untagged_mine and not used:
                remove.append(Removal(img.id, "an untagged older image of the repository"))
            continue
        for ref in mine:
            tag = ImageRef.parse(ref).tag
            if tag in keep:
                kept.append(ref)
            elif used:
                in_use.append(ref)
                kept.append(ref)
            else:
                remove.append(Removal(ref, "not among the tags kept"))
    return RetentionPlan(keep, tuple(remove), tuple(sorted(kept)), tuple(sorted(in_use)))


# -- the Docker adapter -------------------------------------------------------------------

def host_images(client, repositories: set[str]) -> list[HostImage]:
    found: dict[str, HostImage] = {}
    for repo in sorted(repositories):
        for img in client.images.list(name=repo):
            found[img.id] = HostImage(img.id, tuple(img.attrs.get("RepoTags") or ()),
                                      tuple(img.attrs.get("RepoDigests") or ()))
    for img in client.images.list(filters={"dangling": True}):
        digests = tuple(img.attrs.get("RepoDigests") or ())
        if any(d.split("@", 1)[0] in repositories for d in digests):
            found.setdefault(img.id, HostImage(img.id, (), digests))
    return list(found.values())


def live_projects(client) -> set[str]:
    """Compose projects with at least one container (running or not) on the host."""
    return {(c.attrs.get("Labels") or {}).get(PROJECT_LABEL, "")
            for c in client.containers.list(all=True, sparse=True,
                                            filters={"label": PROJECT_LABEL})} - {""}


def used_image_ids(client) -> set[str]:
    return {c.attrs.get("ImageID") or c.attrs.get("Image", "")
            for c in client.containers.list(all=True, sparse=True)}


def apply_retention(client, repositories: set[str], keep: tuple[str, ...],
                    log=lambda msg: None) -> tuple[RetentionPlan, list[str]]:
    """Remove what `select` picks; returns the plan and what was really removed. Docker
    itself refuses to remove an image a container started meanwhile uses (no force)."""
    plan = select(host_images(client, repositories), repositories, keep, used_image_ids(client))
    removed = []
    for r in plan.remove:
        try:
            client.images.remove(r.ref, force=False, noprune=False)
            removed.append(r.ref)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as e:     # 409: a container uses it now
            log(f"kept {r.ref}: {getattr(e, 'explanation', None) or e}")
    return plan, removed
