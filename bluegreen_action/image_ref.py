"""Docker image references: `[registry[:port]/]path[:tag][@digest]`, and how to retag one."""
from __future__ import annotations

import re
from dataclasses import dataclass

TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
# A tag that is nothing but one compose variable: ${TAG}, ${TAG:-v1}, $TAG
VARIABLE_TAG_RE = re.compile(
    r"^\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:[:]?[-?+][^}]*)?\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))$")


@dataclass(frozen=True)
class ImageRef:
    """An image reference split at its tag. `name` keeps the registry and its port."""
    name: str
    tag: str | None
    digest: str | None

    @classmethod
    def parse(cls, ref: str) -> ImageRef:
        # Compose variables (`${TAG:-v1}`) may hold ':' and '/': search a masked copy.
        masked = _mask_variables(ref)
        at = masked.find("@")
        rest, digest = (ref[:at], ref[at + 1:]) if at >= 0 else (ref, "")
        masked = masked[:len(rest)]
        # The tag is after the last ':' of the last path component, so a registry
        # port (127.0.0.1:5000/app) is never mistaken for a tag.
        slash = masked.rfind("/")
        colon = masked.rfind(":")
        if colon > slash:
            return cls(rest[:colon], rest[colon + 1:], digest or None)
        return cls(rest, None, digest or None)

    def __str__(self) -> str:
        s = self.name
        if self.tag is not None:
            s += f":{self.tag}"
        if self.digest:
            s += f"@{self.digest}"
        return s

    @property
    def tag_variable(self) -> str | None:
        """The variable name when the tag is exactly one `${VAR}` (set through the environment)."""
        if self.tag is None:
            return None
        m = VARIABLE_TAG_RE.match(self.tag)
        return (m.group("braced") or m.group("bare")) if m else None

    def with_tag(self, tag: str) -> ImageRef:
        return ImageRef(self.name, tag, None)


def _mask_variables(s: str) -> str:
    return re.sub(r"\$\{[^}]*\}", lambda m: "$" + "_" * (len(m.group()) - 1), s)


def valid_tag(tag: str) -> bool:
    return bool(TAG_RE.match(tag))
