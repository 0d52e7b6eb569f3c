"""Benchmark: the article's deploy script vs `bluegreen deploy`, on the same stack, in one run.

The test world's article stack (Caddy with curl, app booting in 3 s and stopping gracefully)
on the SSH "remote host". For each method (GET, POST) and each deployer, the stack is put on
v1, then deployed to v2 while two clients send requests through Caddy: hey (a Go client that
silently retries a request whose keep-alive connection was closed) and the project's
non-retrying generator. Printed: wall time of the deploy, failed requests both ways, p99.

    .venv/bin/python bench/deploy_bench.py [--runs N] [--methods GET,POST]
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from testworld.common import free_port  # noqa: E402
from testworld.hey import Hey  # noqa: E402
from testworld.load import LoadGenerator  # noqa: E402
from testworld.world import World  # noqa: E402

CONNECTIONS, HEY_RATE, GEN_RATE = 10, 10, 200   # hey: 10 x 10/s; generator: 200/s


def bluegreen_cmd(world, compose: Path, tag: str, project: str, app: str) -> list[str]:
    return [str(ROOT / ".venv/bin/bluegreen"), "deploy", "--host", world.host,
            "--port", str(world.port), "--user", world.user, "--ssh-key", str(world.client_key),
            "--known-hosts", str(world.known_hosts), "--tag", tag, "--services", app,
            "--compose-file", str(compose), "--project-name", project]


def timed(cmd: list[str], env=None, cwd=None) -> tuple[float, int, str]:
    t0 = time.monotonic()
    p = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=600)
    return time.monotonic() - t0, p.returncode, p.stdout + p.stderr


def one_run(world, deployer: str, method: str, compose: Path, project: str, app: str, url: str):
    # start from v1, both colours healthy, routes to both (bluegreen does that idempotently)
    shutil.copy(compose.with_suffix(".v1"), compose)
    _, code, out = timed(bluegreen_cmd(world, compose, "v1", project, app))
    assert code == 0, out
    if deployer == "article":
        # the article's script PATCHes the Caddyfile's own route at a fixed path: give it a
        # Caddy fresh from its Caddyfile, as on a host that only ever ran that script
        world.docker("restart", f"{app}-caddy")
        wait_for_admin(world, f"{app}-caddy")
        cmd = [str(ROOT / "bench/article_deploy.sh"), app, "v1", "v2"]
        env = world.remote_env(base={**os.environ, "COMPOSE_PROJECT_NAME": project})
    else:
        cmd, env = bluegreen_cmd(world, compose, "v2", project, app), None
    with Hey(url, duration=120, concurrency=CONNECTIONS, rate=HEY_RATE, method=method) as hey, \
            LoadGenerator(url, method=method, concurrency=CONNECTIONS, rate=GEN_RATE,
                          duration=120) as load:
        seconds, code, out = timed(cmd, env=env, cwd=compose.parent)
    if code != 0:
        raise SystemExit(f"{deployer} deploy failed:\n{out}")
    return {"deployer": deployer, "method": method, "seconds": seconds,
            "hey_failed": hey.report["failed"], "hey_sent": hey.report["sent"],
            "gen_failed": load.report["failed"], "gen_sent": load.report["sent"],
            "p99": load.report["latency_ms"]["p99"]}


def wait_for_admin(world, container: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if world.docker("exec", container, "curl", "-sf", "localhost:2019/config/",
                        check=False).returncode == 0:
            return
        time.sleep(0.1)
    raise SystemExit(f"Caddy's admin API in {container} did not come up")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--methods", default="GET,POST")
    args = ap.parse_args()
    world = World.ensure(haproxy=False)
    app, port = "bench", free_port()
    project = "bench"
    url = f"http://127.0.0.1:{port}/"
    rows = []
    with tempfile.TemporaryDirectory(prefix="bluegreen-bench-") as tmp:
        # the article runs compose in a folder named after the project
        compose = world.render_stack("article", Path(tmp) / project, app=app, port=port,
                                     tag="v1", boot_delay=3)
        shutil.copy(compose, compose.with_suffix(".v1"))
        try:
            for _ in range(args.runs):
                for method in args.methods.split(","):
                    for deployer in ("article", "bluegreen"):
                        row = one_run(world, deployer, method, compose, project, app, url)
                        rows.append(row)
                        print(fmt(row), flush=True)
        finally:
            world.compose(compose.parent, "down", "-v", "--remove-orphans", "-t", "2",
                          project=project, check=False)
    print("\nsummary (app boot 3 s; hey 10 conns x 10 req/s; non-retrying 10 conns, 200 req/s)")
    print(f"{'deployer':<10} {'method':<6} {'wall s':>7} {'hey failed':>11} "
          f"{'non-retrying failed':>20} {'p99 ms':>8}")
    for r in rows:
        print(fmt(r))
    for method in args.methods.split(","):
        a = [r["seconds"] for r in rows if r["deployer"] == "article" and r["method"] == method]
        b = [r["seconds"] for r in rows if r["deployer"] == "bluegreen" and r["method"] == method]
        if a and b:
            ratio = (sum(b) / len(b)) / (sum(a) / len(a))
            print(f"{method}: bluegreen wall time = {ratio:.2f} x the article's")
    return 0


def fmt(r) -> str:
    return (f"{r['deployer']:<10} {r['method']:<6} {r['seconds']:>7.1f} "
            f"{r['hey_failed']:>5}/{r['hey_sent']:<5} {r['gen_failed']:>10}/{r['gen_sent']:<9} "
            f"{r['p99']:>8.1f}")


if __name__ == "__main__":
    sys.exit(main())
