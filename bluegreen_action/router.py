"""The small interface every proxy router implements (Caddy's admin API, HAProxy's
runtime API), and what the engine needs to know of an app's colours."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from .colors import Color


@dataclass(frozen=True)
class AppTopology:
    """The DNS names under which the proxy may reach each colour of an app
    (service name, container_name), and the one to write when adding a colour."""
    app: str
    names: dict[Color, frozenset[str]]
    preferred: dict[Color, str]


class Router(Protocol):
    kind: str

    def load(self) -> None:
        """Read the proxy's configuration and find every app's upstreams (ProxyError if not)."""

    def routed(self) -> dict[str, set[Color]]:
        """app -> the colours the proxy sends new requests to now."""

    def route_to(self, colors: set[Color]) -> None:
        """Send all apps' new requests to exactly these colours, and read the change back."""

    def reapply_if_lost(self) -> bool:
        """Re-apply the last routing if the proxy lost it (e.g. it restarted); True if it did."""

    @property
    def observes_in_flight(self) -> bool:
        """Whether in_flight() can see requests to a colour no longer routed to."""

    def in_flight(self, color: Color) -> int:
        """Requests the proxy still has open to this colour, across all apps."""

    def probe(self, app: str, color: Color, path: str) -> tuple[bool, str]:
        """One real HTTP request to the colour from the proxy's side: (ok, what happened)."""

    def describe(self) -> str:
        """One line for the log: kind, version, where each app's upstreams are."""

    def close(self) -> None:
        """Release what the router holds open in the proxy container."""
