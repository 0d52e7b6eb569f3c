"""The two colours of an app and the compose service names that carry them."""
from __future__ import annotations

import enum


class Color(str, enum.Enum):
    BLUE = "blue"
    GREEN = "green"

    @property
    def other(self) -> Color:
        return Color.GREEN if self is Color.BLUE else Color.BLUE

    def __str__(self) -> str:
        return self.value


def service_name(app: str, color: Color) -> str:
    """`--services app` means the compose services `app-blue` and `app-green`."""
    return f"{app}-{color.value}"
