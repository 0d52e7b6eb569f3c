"""Benchmark: a whole `bluegreen deploy` through Caddy vs through HAProxy, same app, same load.

Two stacks of the test world in the article's shape, identical but for the proxy: `article`
(Caddy 2.11.7, switched through its admin API: every change a reload) and `haproxy`
(HAProxy 2.6 like the official image, switched through its runtime API: no reload). The app
boots in 3 s and stops gracefully. Each measurement deploys a stack to the other version
(v1 -> v2, then v2 -> v1, ...) with the `bluegreen` CLI while two clients send requests
through the proxy: hey (a Go client that silently retries a request whose keep-alive
connection was closed) and the project's non-retrying generator. The proxies alternate, so
machine load hits both alike. Printed: deploy wall time, failed requests both ways, p99.

    .venv/bin/python bench/proxies.py [--runs N] [--methods GET,POST] [--connections 10]
        [--rate 200] [--json OUT]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from testworld.hey import Hey  # noqa: E402
from testworld.load import LoadGenerator  # noqa: E402
from testworld.world import World  # noqa: E402

KINDS = {"caddy": ("article", 18390), "haproxy": ("haproxy", 18391)}   # proxy -> stack kind, port
HEY_CONNECTIONS, HEY_RATE = 10, 10       # hey: 10 connections x 10 req/s


def bluegreen_cmd(world, compose: Path, tag: str, project: str, app: str) -> list[str]:
    return [str(ROOT / ".venv/bin/bluegreen"), "deploy", "--host", world.host,
            "--port", str(world.port), "--user", world.user, "--ssh-key", str(world.client_key),
            "--known-hosts", str(world.known_hosts), "--tag", tag, "--services", app,
            "--compose-file", str(compose), "--project-name", project]


def deploy(world, stack, tag: str) -> tuple[float, str]:
    t0 = time.monotonic()
    p = subprocess.run(bluegreen_cmd(world, stack["compose"], tag, stack["project"], stack["app"]),
                       capture_output=True, text=True, timeout=600)
    seconds = time.monotonic() - t0
    if p.returncode != 0:
        raise SystemExit(f"deploy of {tag} to {stack['project']} failed:\n{p.stdout}{p.stderr}")
    return seconds, p.stdout + p.stderr


def measure(world, proxy: str, stack, method: str, connections: int, rate: float) -> dict:
    tag = "v2" if stack["tag"] == "v1" else "v1"
    with Hey(stack["url"], duration=120, concurrency=HEY_CONNECTIONS, rate=HEY_RATE,
             method=method) as hey, \
            LoadGenerator(stack["url"], method=method, concurrency=connections, rate=rate,
                          duration=120) as load:
        seconds, log = deploy(world, stack, tag)
    stack["tag"] = tag
    return {"proxy": proxy, "method": method, "deploy": f"{'v1' if tag == 'v2' else 'v2'}->{tag}",
            "seconds": round(seconds, 2), "hey_failed": hey.report["failed"],
            "hey_sent": hey.report["sent"], "gen_failed": load.report["failed"],
            "gen_sent": load.report["sent"], "gen_failure_kinds": load.report["failure_kinds"],
            "p99": load.report["latency_ms"]["p99"], "log": log}


def fmt(r) -> str:
    return (f"{r['proxy']:<8} {r['method']:<5} {r['deploy']:<7} {r['seconds']:>6.1f} "
            f"{r['hey_failed']:>5}/{r['hey_sent']:<6} {r['gen_failed']:>5}/{r['gen_sent']:<6} "
            f"{r['p99']:>8.1f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3, help="deploys per proxy and method")
    ap.add_argument("--methods", default="GET,POST")
    ap.add_argument("--connections", type=int, default=10, help="non-retrying generator")
    ap.add_argument("--rate", type=float, default=200, help="non-retrying generator, req/s")
    ap.add_argument("--json", help="write every measurement here")
    args = ap.parse_args()
    world = World.ensure()
    rows = []
    stacks = {}
    with tempfile.TemporaryDirectory(prefix="bluegreen-proxies-") as tmp:
        try:
            for proxy, (kind, port) in KINDS.items():
                app = f"px{proxy}"
                compose = world.render_stack(kind, Path(tmp) / app, app=app, port=port,
                                             tag="v1", boot_delay=3)
                stacks[proxy] = {"compose": compose, "project": app, "app": app, "tag": "v1",
                                 "url": f"http://127.0.0.1:{port}/"}
                deploy(world, stacks[proxy], "v1")          # first deploy: the stack comes up
            print(f"{'proxy':<8} {'meth':<5} {'deploy':<7} {'wall s':>6} {'hey fail':>12} "
                  f"{'non-retrying':>12} {'p99 ms':>8}", flush=True)
            for _ in range(args.runs):
                for method in args.methods.split(","):
                    for proxy in KINDS:
                        row = measure(world, proxy, stacks[proxy], method, args.connections,
                                      args.rate)
                        rows.append(row)
                        print(fmt(row), flush=True)
        finally:
            for s in stacks.values():
                world.compose(s["compose"].parent, "down", "-v", "--remove-orphans", "-t", "2",
                              project=s["project"], check=False)
    print(f"\nmedians (app boot 3 s; hey {HEY_CONNECTIONS} conns x {HEY_RATE} req/s; non-retrying "
          f"{args.connections} conns, {args.rate:g} req/s; {args.runs} deploys each)")
    for method in args.methods.split(","):
        for proxy in KINDS:
            rs = [r for r in rows if r["proxy"] == proxy and r["method"] == method]
            if rs:
                print(f"{proxy:<8} {method:<5} wall {statistics.median(r['seconds'] for r in rs):5.1f} s"
                      f"  hey failed {sum(r['hey_failed'] for r in rs)}/{sum(r['hey_sent'] for r in rs)}"
                      f"  non-retrying failed {sum(r['gen_failed'] for r in rs)}/"
                      f"{sum(r['gen_sent'] for r in rs)}"
                      f"  p99 {statistics.median(r['p99'] for r in rs):.1f} ms")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
