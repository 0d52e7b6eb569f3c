"""Benchmark: `bluegreen deploy --strategy blue-green` and `bluegreen rollback`, timed as a
user sees them (the whole CLI command, SSH connection included), under load.

On the test world's host B (its own Docker Engine), for Caddy (article stack) and HAProxy:
put the stack on v1 (blue-green), then N times: deploy the next tag (v2, v3, v2, ...) and
roll it back, with hey and the non-retrying generator sending requests through the proxy
the whole time. Printed per run: the deploy's wall time, the rollback's wall time and its
proxy switch; at the end, failed requests both ways and the versions in the order they
answered. The peer docker-rollout takes about 5 s for the same 3 s boot (ENVIRONMENT.md:
4.9-5.2 s), while serving old and new side by side; blue-green never does.

    .venv/bin/python bench/blue_green_bench.py [--runs N] [--kinds article,haproxy]
"""
from __future__ import annotations

import argparse
import re
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

PORTS = {"article": 18690, "haproxy": 18691}      # test_fleet's range, never used together


def cli(world, *args: str) -> tuple[float, str]:
    cmd = [str(ROOT / ".venv/bin/bluegreen"), *args, "--host", world.host_b.address,
           "--user", world.user, "--ssh-key", str(world.client_key),
           "--known-hosts", str(world.host_b.known_hosts)]
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    took = time.monotonic() - t0
    if p.returncode != 0:
        raise RuntimeError(p.stdout + p.stderr)
    return took, p.stdout


def answered(report: dict, straggle: float = 0.2) -> tuple[list[str], int, float]:
    """The versions in the order they answered, each run once, after setting aside short runs
    of the old version that end within `straggle` s of the new one's first answer (requests
    in flight at the switch); also how many answers were set aside and the longest such
    overlap, in seconds."""
    runs = [dict(s) for s in report["version_sequence"]]
    late, overlap = 0, 0.0
    i = 1
    while i < len(runs) - 1:
        before, x, after = runs[i - 1], runs[i], runs[i + 1]
        if before["version"] == after["version"] != x["version"] and x["count"] <= 10 \
                and x["last"] - before["first"] <= straggle:
            late += x["count"]
            overlap = max(overlap, x["last"] - before["first"])
            before.update(last=after["last"], count=before["count"] + after["count"])
            del runs[i:i + 2]
            i = max(1, i - 1)
        else:
            i += 1
    return [r["version"] for r in runs], late, overlap


def bench(world, kind: str, runs: int) -> dict:
    port = PORTS[kind]
    app, project = f"zbench{port}", f"bgbench{port}"
    folder = Path(tempfile.mkdtemp(prefix="bluegreen-bench-"))
    compose = world.render_stack(kind, folder, app=app, port=port, tag="v1", boot_delay=3)
    stack = ["--services", app, "--compose-file", str(compose), "--project-name", project]
    deploys, rollbacks, switches = [], [], []
    try:
        cli(world, "deploy", "--tag", "v1", "--strategy", "blue-green", "--keep-images", "0", *stack)
        url = world.host_b.url(port)
        with Hey(url, duration=600, concurrency=10, rate=10) as hey, \
                LoadGenerator(url, concurrency=10, rate=200, duration=600) as load:
            time.sleep(1)
            for i in range(runs):
                tag = ("v2", "v3")[i % 2]
                took, _ = cli(world, "deploy", "--tag", tag, "--strategy", "blue-green",
                              "--keep-images", "0", *stack)
                deploys.append(took)
                time.sleep(1)
                took, out = cli(world, "rollback", *stack)
                rollbacks.append(took)
                switches.append(float(re.search(r"switched in ([\d.]+)s", out).group(1)))
                time.sleep(1)
                print(f"{kind} run {i + 1}: deploy v1 -> {tag} {deploys[-1]:.2f}s, rollback "
                      f"{rollbacks[-1]:.2f}s (switch {switches[-1]:.3f}s)", flush=True)
        return {"kind": kind, "deploys": deploys, "rollbacks": rollbacks, "switches": switches,
                "hey": hey.report, "load": load.report}
    finally:
        world.host_b.compose(compose, "down", "-v", "-t", "1", project=project, check=False)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--kinds", default="article,haproxy")
    a = p.parse_args(argv)
    world = World.ensure(second_host=True)
    results = [bench(world, k, a.runs) for k in a.kinds.split(",")]
    print("\n| proxy | blue-green deploy (median, min-max) | rollback command | proxy switch "
          "| failed (hey) | failed (non-retrying) | versions in order | in flight at a switch |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        d, rb, sw = r["deploys"], r["rollbacks"], r["switches"]
        seq, late, overlap = answered(r["load"])
        print(f"| {'Caddy' if r['kind'] == 'article' else 'HAProxy'} | "
              f"{statistics.median(d):.2f} s ({min(d):.2f}-{max(d):.2f}) | "
              f"{statistics.median(rb):.2f} s | {statistics.median(sw) * 1000:.0f} ms | "
              f"{r['hey']['failed']} of {r['hey']['sent']} | "
              f"{r['load']['failed']} of {r['load']['sent']} | {len(seq)} runs: "
              f"{' '.join(seq[:7])}{' ...' if len(seq) > 7 else ''} | "
              f"{late} old answers, within {overlap * 1000:.0f} ms |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
