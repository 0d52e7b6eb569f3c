"""Reading a compose file and rewriting the image tags of the swapped services.

The rewrite edits the original text in place at the exact spans where the image
references stand, so comments, anchors, merge keys, quoting and layout stay byte for byte.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .colors import Color, service_name
from .errors import ComposeFileError
from .image_ref import ImageRef

PROXY_WORDS = ("caddy", "haproxy")


@dataclass(frozen=True)
class ImageSite:
    """Where one image reference stands in the compose text."""
    start: int
    end: int
    value: str
    quote: str  # "", "'" or '"'
    line: int   # 1-based


@dataclass
class Retag:
    """The compose text with new image references."""
    text: str
    old_images: dict[str, str] = field(default_factory=dict)   # service -> image before
    new_images: dict[str, str] = field(default_factory=dict)   # service -> image after


class ComposeFile:
    def __init__(self, path: Path, text: str):
        self.path = path
        self.text = text
        try:
            self.data = yaml.safe_load(text) or {}
            self._root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            raise ComposeFileError(
                f"{path} is not valid YAML: {getattr(e, 'problem', None) or e}",
                file=str(path), line=mark.line + 1 if mark else None,
                hint="fix the YAML syntax at the line shown (`docker compose config` shows it too)",
            ) from None
        if not isinstance(self.data, dict) or not isinstance(self.data.get("services"), dict):
            raise ComposeFileError(f"{path} has no `services:` mapping", file=str(path),
                                   hint="point --compose-file at your Docker Compose file")
        self.services: dict[str, dict] = {
            k: (v or {}) for k, v in self.data["services"].items()}

    @classmethod
    def load(cls, path: str | Path) -> ComposeFile:
        p = Path(path)
        if not p.is_file():
            raise ComposeFileError(
                f"compose file {p} not found",
                hint="check out the repository before this step, or set compose-file to the path "
                     "of your compose file relative to the workspace")
        return cls(p, p.read_text())

    # -- names ---------------------------------------------------------------------------
    def project_name(self, repo_name: str | None = None) -> str:
        """Top-level `name:`, else the repository's name, else the compose file's folder."""
        raw = self.data.get("name") or repo_name or self.path.resolve().parent.name
        return normalize_project_name(str(raw))

    def line_of_service(self, name: str) -> int | None:
        """The line where the service's key stands."""
        services = _lookup(self._root, "services")
        for k, _ in getattr(services, "value", []):
            if k.value == name:
                return k.start_mark.line + 1
        return None

    def container_name(self, service: str) -> str | None:
        return self.services.get(service, {}).get("container_name")

    def has_healthcheck(self, service: str) -> bool:
        hc = self.services.get(service, {}).get("healthcheck")
        return bool(hc) and not hc.get("disable") and hc.get("test") not in (["NONE"], "NONE")

    def relative_bind_mounts(self, service: str) -> list[str]:
        """The service's bind mounts whose source is a relative path (`./conf:/etc/x`).
        Compose resolves them against the folder of the compose file *here*, but the
        server's Docker Engine mounts that path from *its* disk."""
        found = []
        for v in self.services.get(service, {}).get("volumes") or []:
            if isinstance(v, str):
                source = v.split(":", 1)[0] if ":" in v else ""
            elif isinstance(v, dict) and v.get("type", "volume") == "bind":
                source = str(v.get("source") or "")
            else:
                continue
            if source.startswith(("./", "../", "~")) or source in (".", ".."):
                found.append(source)
        return found

    def require_colors(self, app: str) -> tuple[str, str]:
        """The blue and green service names of an app, or a clear error."""
        names = []
        for color in Color:
            svc = service_name(app, color)
            if svc not in self.services:
                present = ", ".join(sorted(self.services))
                other = service_name(app, color.other)
                raise ComposeFileError(
                    f"service `{svc}` not found in {self.path} (services: {present})",
                    file=str(self.path),
                    line=self.line_of_service(other) if other in self.services else None,
                    hint=f"services `{app}` needs two services, `{app}-blue` and `{app}-green`, "
                         f"running the same image; add `{svc}` (a YAML anchor and `<<: *{app}` "
                         f"keeps them identical) or name the app correctly")
            names.append(svc)
        return names[0], names[1]

    def proxy_candidates(self, apps: list[str]) -> list[str]:
        """Services that look like the reverse proxy: their name or image mentions Caddy or
        HAProxy; failing that, the services other than the apps' colours that publish ports."""
        colors = {service_name(a, c) for a in apps for c in Color}
        others = [s for s in self.services if s not in colors]
        named = [s for s in others
                 if any(w in (s + " " + str(self.services[s].get("image", ""))).lower()
                        for w in PROXY_WORDS)]
        if named:
            return named
        return [s for s in others if self.services[s].get("ports")]

    # -- images --------------------------------------------------------------------------
    def image_site(self, service: str) -> ImageSite:
        node = self._service_node(service)
        scalar = _lookup(node, "image") if node is not None else None
        if scalar is None or not isinstance(scalar, yaml.ScalarNode):
            raise ComposeFileError(
                f"service `{service}` has no `image:` in {self.path}",
                file=str(self.path), line=self.line_of_service(service),
                hint="bluegreen deploys pre-built images: give the service an `image:` "
                     "(build and push it in an earlier job)")
        return ImageSite(scalar.start_mark.index, scalar.end_mark.index, scalar.value,
                         scalar.style or "", scalar.start_mark.line + 1)

    def retag(self, services: list[str], tag: str) -> Retag:
        """Rewrite the image tag of each given service. A tag written as one variable
        (`app:${TAG:-v1}`) is replaced too; variables in the name are left to compose."""
        return self.set_images({svc: self._new_image(svc, self.image_site(svc), tag)
                                for svc in services})

    def set_images(self, images: dict[str, str]) -> Retag:
        """Write each service's image reference as given (a rollback sets the exact
        reference the old containers ran). A site shared through an anchor is written once."""
        result = Retag(text=self.text)
        edits: dict[int, tuple[ImageSite, str]] = {}
        for svc, new in images.items():
            site = self.image_site(svc)
            result.old_images[svc] = site.value
            result.new_images[svc] = new
            if new != site.value:
                edits[site.start] = (site, new)
        text = self.text
        for site, new in sorted(edits.values(), key=lambda e: e[0].start, reverse=True):
            text = text[:site.start] + site.quote + new + site.quote + text[site.end:]
        result.text = text
        return result

    def _new_image(self, svc: str, site: ImageSite, tag: str) -> str:
        ref = ImageRef.parse(site.value)
        where = dict(file=str(self.path), line=site.line)
        if ref.digest:
            raise ComposeFileError(
                f"the image of `{svc}` is pinned by digest ({site.value}); a tag cannot replace it",
                hint=f"write the image without `@{ref.digest.split(':')[0]}:...` so bluegreen can set "
                     "the tag", **where)
        variable_tag = "$" in (ref.tag or "") and not ref.tag_variable
        if variable_tag or ref.name.startswith("$") and "/" not in ref.name:
            raise ComposeFileError(
                f"the image of `{svc}` ({site.value}) is built from variables bluegreen cannot "
                "retag", hint="write it as `registry/name:${TAG}` or `registry/name:tag`", **where)
        return str(ref.with_tag(tag))

    def _service_node(self, name: str):
        services = _lookup(self._root, "services")
        return _lookup(services, name) if services is not None else None


def _lookup(node, key: str):
    """A key's value node in a mapping node, following `<<` merge keys as compose does
    (keys written directly win over merged ones)."""
    if not isinstance(node, yaml.MappingNode):
        return None
    merged = []
    for k, v in node.value:
        if k.value == key and k.tag != "tag:yaml.org,2002:merge":
            return v
        if k.value == "<<":
            merged.extend(v.value if isinstance(v, yaml.SequenceNode) else [v])
    for m in merged:
        found = _lookup(m, key)
        if found is not None:
            return found
    return None


def normalize_project_name(raw: str) -> str:
    """Compose's rule: lower case, keep only [a-z0-9_-], start with a letter or digit."""
    name = re.sub(r"[^a-z0-9_-]", "", raw.lower()).lstrip("_-")
    if not name:
        raise ComposeFileError(f"cannot derive a compose project name from {raw!r}",
                               hint="set project-name (--project-name)")
    return name
