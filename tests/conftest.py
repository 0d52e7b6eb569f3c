"""Shared fixtures. The repo root goes on sys.path so tests can import `testworld`.

Fixtures for integration tests (they need the real world; `scripts/test.sh` ensures it):
  world        session-wide `testworld.World` (World.ensure(): idempotent, ~1 s when up)
  make_stack   factory: make_stack(kind="article"|"nested", app=None, tag="v1",
               boot_delay=3, up=True) -> Stack, rendered into tmp_path with a unique
               compose project, a free port and (unless given) a unique app name, since
               the article's container names are global on the engine; every stack is
               torn down afterwards
  stack        an "article" stack, up and healthy
  project_dir  an "article" stack rendered but NOT brought up (for deploy tools to do it)
"""

from __future__ import annotations

import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session")
def world():
    from testworld import World

    return World.ensure()


@dataclass
class Stack:
    world: object
    kind: str
    dir: Path
    compose_file: Path
    project: str
    app: str
    port: int
    tag: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def compose(self, *args, **kwargs):
        return self.world.compose(self.dir, *args, project=self.project, **kwargs)

    def up(self, timeout: float = 180):
        return self.compose("up", "-d", "--wait", timeout=timeout)

    def down(self):
        return self.compose("down", "-v", "--remove-orphans", "-t", "10", check=False,
                            timeout=120)


@pytest.fixture
def make_stack(world, tmp_path):
    from testworld.common import free_port

    made: list[Stack] = []

    def make(kind="article", app=None, tag="v1", boot_delay=3, up=True) -> Stack:
        app = app or f"z{uuid.uuid4().hex[:6]}"
        port = free_port()
        folder = tmp_path / f"{kind}-{len(made)}"
        path = world.render_stack(kind, folder, app=app, port=port, tag=tag,
                                  boot_delay=boot_delay)
        stack = Stack(world, kind, folder, path, f"bgt-{uuid.uuid4().hex[:10]}", app, port, tag)
        made.append(stack)
        if up:
            stack.up()
        return stack

    yield make
    for stack in reversed(made):
        proc = stack.down()
        if proc.returncode != 0:
            print(f"teardown of {stack.project} failed: {proc.stderr[-500:]}")


@pytest.fixture
def stack(make_stack) -> Stack:
    return make_stack("article")


@pytest.fixture
def project_dir(make_stack) -> Stack:
    return make_stack("article", up=False)
