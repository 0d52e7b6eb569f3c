"""The test world of bluegreen-action: real Docker, real sshd, real registries, real Caddy.

Not installed by pip: tests and scripts import it with the repo root on sys.path.
Entry points: `World.ensure()` (Python) and `python -m testworld up|status|down` (shell).
"""

__all__ = ["World"]


def __getattr__(name):  # lazy, so `python -m testworld.load` stays light
    if name == "World":
        from .world import World

        return World
    raise AttributeError(name)
