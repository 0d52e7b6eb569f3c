"""The README's first command ends here: a real zero-downtime deploy on the local test world.

The sample app (3 s boot) runs behind Caddy on the SSH "remote host" (sshd on 127.0.0.1:2222
in front of this machine's Docker Engine). `bluegreen deploy` takes it from v1 to v2 and
back while two clients send requests through the proxy: hey (a Go client) and our
non-retrying generator; each deploy's phases, time and request counts are printed.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from testworld.common import free_port  # noqa: E402
from testworld.hey import Hey  # noqa: E402
from testworld.load import LoadGenerator  # noqa: E402
from testworld.world import World  # noqa: E402

BLUEGREEN = str(ROOT / ".venv" / "bin" / "bluegreen")


def bluegreen(world: World, compose: Path, tag: str, project: str, app: str) -> int:
    argv = [BLUEGREEN, "deploy", "--host", world.host, "--port", str(world.port),
            "--user", world.user, "--ssh-key", str(world.client_key),
            "--known-hosts", str(world.known_hosts), "--tag", tag, "--services", app,
            "--compose-file", str(compose), "--project-name", project]
    print("$ " + " ".join(argv[1:]), flush=True)
    return subprocess.run(argv).returncode


def main() -> int:
    world = World.ensure(haproxy=False)
    app, project, port = "demo", "bluegreen-demo", free_port()
    url = f"http://127.0.0.1:{port}/"
    with tempfile.TemporaryDirectory(prefix="bluegreen-demo-") as tmp:
        compose = world.render_stack("article", Path(tmp), app=app, port=port, tag="v1",
                                     boot_delay=3)
        try:
            print("\n## First deploy of v1 (an empty host: the whole stack comes up)\n", flush=True)
            if bluegreen(world, compose, "v1", project, app):
                return 1
            for tag in ("v2", "v1"):
                print(f"\n## Deploy {tag} while requests flow through Caddy on {url}\n", flush=True)
                with Hey(url, duration=60, concurrency=10, rate=10) as hey, \
                        LoadGenerator(url, concurrency=10, rate=200, duration=60) as load:
                    code = bluegreen(world, compose, tag, project, app)
                print(f"\nrequests during the deploy of {tag}:")
                print(f"  hey (Go client, retries closed keep-alives): sent {hey.report['sent']}, "
                      f"failed {hey.report['failed']}")
                print(f"  non-retrying client: sent {load.report['sent']}, failed "
                      f"{load.report['failed']}"
                      + (f" ({', '.join(f'{n}x {k}' for k, n in load.report['failure_kinds'].items())})"
                         if load.report["failed"] else "")
                      + f", p99 {load.report['latency_ms']['p99']} ms")
                print("  versions answered, in order: "
                      + " → ".join(f"{s['version']}×{s['count']}" for s in load.report["version_sequence"]))
                if code:
                    return code
            print("\nCaddy was switched with flag files, without a reload (README: 'How Caddy reaches"
                  "\nzero for every client'), so even the client that never retries lost nothing.")
        finally:
            world.compose(compose.parent, "down", "-v", "--remove-orphans", "-t", "2",
                          project=project, check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
