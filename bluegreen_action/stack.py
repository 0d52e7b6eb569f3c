"""What the commands that do not deploy (rollback, status, history) need to know of the
compose file: the project, the apps' colour services and container names, the proxy
service. Read locally, before anything on a server is touched; the same rules as a deploy.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .colors import Color, service_name
from .compose_file import ComposeFile
from .errors import ComposeFileError
from .image_ref import ImageRef
from .router import AppTopology


@dataclass(frozen=True)
class StackInfo:
    compose: ComposeFile
    project: str
    apps: tuple[str, ...]
    proxy_service: str
    topology: tuple[AppTopology, ...]

    @property
    def colour_services(self) -> list[str]:
        return [service_name(a, c) for a in self.apps for c in Color]

    def services_of(self, colour: Color) -> list[str]:
        return [service_name(a, colour) for a in self.apps]

    @property
    def repositories(self) -> set[str]:
        """The image repositories of the apps' colours (for image retention)."""
        return {ImageRef.parse(self.compose.image_site(s).value).name
                for s in self.colour_services}


def read_stack(compose_file: Path, apps: tuple[str, ...], project_name: str | None = None,
               repo_name: str | None = None, proxy_service: str | None = None) -> StackInfo:
    compose = ComposeFile.load(compose_file)
    for app in apps:
        compose.require_colors(app)
    project = project_name or compose.project_name(repo_name)
    topology = tuple(AppTopology(
        a, {c: frozenset({service_name(a, c), compose.container_name(service_name(a, c))} - {None})
            for c in Color},
        {c: compose.container_name(service_name(a, c)) or service_name(a, c) for c in Color})
        for a in apps)
    return StackInfo(compose, project, tuple(apps), _proxy(compose, apps, proxy_service), topology)


def _proxy(compose: ComposeFile, apps: tuple[str, ...], given: str | None) -> str:
    if given:
        if given not in compose.services:
            raise ComposeFileError(f"proxy service `{given}` is not in {compose.path}",
                                   hint=f"set proxy-service to one of: {', '.join(compose.services)}")
        return given
    found = compose.proxy_candidates(list(apps))
    if len(found) != 1:
        raise ComposeFileError(
            f"cannot tell which service is the reverse proxy in {compose.path} "
            f"({'candidates: ' + ', '.join(found) if found else 'no Caddy or HAProxy service'})",
            hint="set proxy-service (--proxy-service) to the Caddy or HAProxy service")
    return found[0]
