#!/usr/bin/env python3
"""How close to zero failed requests can a Caddy traffic switch get for a client that never
retries?  Measures each alternative on the test world, under load, and prints a table.

    python bench/caddy_alternatives.py [--reps 1] [--only admin,flags,...] [--json OUT]

Every scenario runs a fresh Caddy 2.11.7 container (`local/caddy:curl` or
`local/caddy:busybox`) on 127.0.0.1:18410 in front of two sample-app containers
(`cx-blue`, `cx-green`, boot delay 3 s, graceful SIGTERM) on the docker network `cx-net`,
while five load runs go through Caddy at the same time:

  * testworld.load.LoadGenerator GET  and POST: Python http.client, keep-alive, never
    retries; 10 connections, ~150 req/s each;
  * testworld.hey.Hey GET and POST: Go client (retries idempotent requests on a closed
    keep-alive connection); 5 workers x 20 req/s each;
  * "slow POST": LoadGenerator, 4 connections that always have a 1 s request in flight.

Switching scenarios run blue = v1 and green = v2, so the answers show where traffic goes;
after each switch a probe (fresh connections) measures when the new routing took effect.

Scenarios (`switches` = traffic changes made while the load runs):

  admin         6 admin-API upstream changes 2.5 s apart (green, blue, both, x2): a reload each
  admin-grace   the same with `grace_period 10s` and `shutdown_delay 5s` (global options)
  admin-migrate the same with the Caddy container's sysctl net.ipv4.tcp_migrate_req=1
  close-window  the same as admin, but a flag file makes Caddy answer `Connection: close` from
                0.5 s before each admin change until 0.3 s after it (`file` matcher + `header`)
  close-migrate close-window plus net.ipv4.tcp_migrate_req=1
  flags         no admin change at all: `file` matchers route to only-green / only-blue / both;
                a switch is an atomic touch/mv/rm of a flag file inside the Caddy container
  health        no admin change: active health checks through `health_upstream` to an internal
                Caddy site that answers 503 for a colour whose `<colour>.down` file exists
  dns           no admin change: `dynamic a` upstreams on a Docker network alias (second
                network `cx-live`); a switch is `docker network disconnect/connect --alias`
  stop-deploy   a whole deploy v1->v2 without admin change: both colours always listed,
                lb_try_duration 5s; each colour is stopped gracefully and recreated in turn
  flags-deploy  a whole deploy v2->v1 with `flags`: route away (touch/mv), wait until
                /reverse_proxy/upstreams shows 0 in flight, stop, recreate, wait healthy, route

The default run leaves out admin-grace and admin-migrate (use --only).
Bounded: every load run and wait has a deadline; the default run takes ~4 minutes.
Everything it starts is named cx-* and removed at the end (also on error / Ctrl-C).
"""

from __future__ import annotations

import argparse
import json
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

PORT = 18410
URL = f"http://127.0.0.1:{PORT}/"
NET, LIVE_NET, LIVE_ALIAS = "cx-net", "cx-live", "cx-app-live"
CADDY = "cx-caddy"
COLOURS = ("cx-blue", "cx-green")
BOOT_DELAY = 3
FLAGS = "/run/bluegreen"
LOAD_RATE, LOAD_CONNS = 150, 10
HEY_WORKERS, HEY_Q = 5, 20
SPACING = 2.5  # seconds between switches

RETRIES = """		lb_try_duration 5s
		lb_try_interval 100ms
		fail_duration 2s"""


def rp(upstreams: str, extra: str = "") -> str:
    return f"reverse_proxy {upstreams} {{\n{RETRIES}\n{extra}\t}}"


CADDYFILES = {
    "plain": f":8080 {{\n\t{rp('cx-blue:8000 cx-green:8000')}\n}}\n",
    "grace": "{\n\tgrace_period 10s\n\tshutdown_delay 5s\n}\n"
             f":8080 {{\n\t{rp('cx-blue:8000 cx-green:8000')}\n}}\n",
    "close-window": f""":8080 {{
	@closing file {{
		root {FLAGS}
		try_files closing
	}}
	header @closing Connection close
	{rp('cx-blue:8000 cx-green:8000')}
}}
""",
    "flags": f""":8080 {{
	@only_green file {{
		root {FLAGS}
		try_files cx.only-green
	}}
	@only_blue file {{
		root {FLAGS}
		try_files cx.only-blue
	}}
	handle @only_green {{
		{rp('cx-green:8000')}
	}}
	handle @only_blue {{
		{rp('cx-blue:8000')}
	}}
	handle {{
		{rp('cx-blue:8000 cx-green:8000')}
	}}
}}
""",
    "health": f""":8080 {{
	{rp('cx-blue:8000 cx-green:8000', '''		health_uri /health
		health_upstream 127.0.0.1:8081
		health_headers {
			X-Upstream {http.reverse_proxy.active.target_upstream}
		}
		health_interval 200ms
		health_timeout 1s
		health_fails 1
		health_passes 1
''')}
}}
# internal: health of a colour = its own /health, unless the deploy marked it down
:8081 {{
	bind 127.0.0.1
	@blue_down {{
		header X-Upstream *cx-blue*
		file {{
			root {FLAGS}
			try_files cx-blue.down
		}}
	}}
	@green_down {{
		header X-Upstream *cx-green*
		file {{
			root {FLAGS}
			try_files cx-green.down
		}}
	}}
	respond @blue_down 503
	respond @green_down 503
	reverse_proxy {{http.request.header.X-Upstream}}
}}
""",
    "dns": f""":8080 {{
	reverse_proxy {{
		dynamic a {LIVE_ALIAS} 8000 {{
			refresh 1s
		}}
{RETRIES}
		transport http {{
			dial_timeout 500ms
		}}
	}}
}}
""",
}


# --- docker helpers -----------------------------------------------------------------------

def sh(*args, check=True, timeout=120) -> str:
    p = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, args))}: {p.stderr.strip() or p.stdout.strip()}")
    return p.stdout


def cexec(*cmd, check=True) -> str:
    return sh("docker", "exec", CADDY, *cmd, check=check, timeout=30)


def http_get_cmd(url: str) -> list[str]:
    """GET from inside the Caddy container: busybox wget, or curl in the curl image."""
    return ["docker", "exec", CADDY, "sh", "-c",
            f"if command -v wget >/dev/null; then wget -qO- {url}; "
            f"else curl -fsS -m 2 {url}; fi"]


def remove(*names):
    subprocess.run(["docker", "rm", "-f", *names], capture_output=True, timeout=120)


def run_app(name: str, image: str):
    remove(name)
    sh("docker", "run", "-d", "--name", name, "--network", NET, "--restart", "no",
       "-e", f"BOOT_DELAY={BOOT_DELAY}", "--stop-timeout", "30", image)


def app_healthy_from_caddy(name: str, deadline_s: float = 30) -> float:
    """Wait until `name` answers /health as reached from the Caddy container."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < deadline_s:
        p = subprocess.run(http_get_cmd(f"http://{name}:8000/health"), capture_output=True,
                           text=True, timeout=30)
        if p.returncode == 0 and "ok" in p.stdout:
            return time.monotonic() - t0
        time.sleep(0.1)
    raise RuntimeError(f"{name} not healthy after {deadline_s}s")


def start_caddy(caddyfile: str, image: str, extra_networks=(), docker_args=()):
    remove(CADDY)
    with tempfile.TemporaryDirectory(prefix="cx-") as tmp:
        (Path(tmp) / "Caddyfile").write_text(caddyfile)
        sh("docker", "create", "--name", CADDY, "--network", NET,
           "-p", f"127.0.0.1:{PORT}:8080", *docker_args, image)
        sh("docker", "cp", f"{tmp}/Caddyfile", f"{CADDY}:/etc/caddy/Caddyfile")
    for net in extra_networks:
        sh("docker", "network", "connect", net, CADDY)
    sh("docker", "start", CADDY)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 20:
        p = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "2", URL],
                           capture_output=True, text=True)
        if p.stdout == "200":
            cexec("mkdir", "-p", FLAGS)
            return
        time.sleep(0.2)
    raise RuntimeError(f"Caddy did not answer 200: {sh('docker', 'logs', CADDY, check=False)}")


def _find_upstreams(node, path=""):
    """Config path of the first reverse_proxy handler's `upstreams` (walking the JSON)."""
    if isinstance(node, dict):
        if node.get("handler") == "reverse_proxy" and "upstreams" in node:
            return f"{path}/upstreams"
        items = node.items()
    elif isinstance(node, list):
        items = enumerate(node)
    else:
        return None
    for key, child in items:
        found = _find_upstreams(child, f"{path}/{key}")
        if found:
            return found
    return None


def admin_upstreams(dials: list[str]):
    """One admin-API change (a full graceful reload) of the reverse_proxy's upstreams."""
    config = json.loads(sh(*http_get_cmd("http://localhost:2019/config/")))
    path = _find_upstreams(config)
    body = json.dumps([{"dial": d} for d in dials])
    cexec("curl", "-fsS", "-X", "PATCH", "-H", "Content-Type: application/json", "-d", body,
          f"http://localhost:2019/config{path}")


def in_flight(address: str) -> int:
    data = json.loads(sh(*http_get_cmd("http://localhost:2019/reverse_proxy/upstreams")))
    return sum(u.get("num_requests", 0) for u in data if u.get("address") == address)


def wait_drained(address: str, deadline_s: float = 30) -> float:
    """Until Caddy reports no request in flight to address (seen twice, 50 ms apart)."""
    t0 = time.monotonic()
    zeros = 0
    while time.monotonic() - t0 < deadline_s:
        zeros = zeros + 1 if in_flight(address) == 0 else 0
        if zeros >= 2:
            return time.monotonic() - t0
        time.sleep(0.05)
    raise RuntimeError(f"{address} still has requests in flight after {deadline_s}s")


# --- switch actions -----------------------------------------------------------------------
# In the switching scenarios blue runs v1 and green v2, so the answers show where traffic goes.
ONLY_GREEN, ONLY_BLUE, BOTH = {"v2"}, {"v1"}, {"v1", "v2"}


def probe_versions(n: int = 16) -> set:
    """Versions answering n fresh-connection GETs (a probe failure is ignored, not counted)."""
    import http.client
    seen = set()
    for _ in range(n):
        try:
            c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=5)
            c.request("GET", "/", headers={"Connection": "close"})
            seen.add(json.loads(c.getresponse().read())["version"])
            c.close()
        except Exception:  # noqa: BLE001
            pass
    return seen


def switch(ctx: dict, label: str, fn, expect: set | None):
    """Make one traffic switch, remember when, and measure when it took effect."""
    t = time.time()
    fn()
    ctx["switches"].append({"label": label, "t": t, "call_s": round(time.time() - t, 3)})
    if expect is None:
        return
    while time.time() - t < 10:
        if probe_versions() == expect:
            ctx["switches"][-1]["effective_s"] = round(time.time() - t, 2)
            return
        time.sleep(0.05)
    ctx["switches"][-1]["effective_s"] = None  # never took effect within 10 s
    print(f"  ! switch {label} did not take effect within 10 s", flush=True)


ADMIN_SEQ = [("green", ["cx-green:8000"], ONLY_GREEN), ("blue", ["cx-blue:8000"], ONLY_BLUE),
             ("both", ["cx-blue:8000", "cx-green:8000"], BOTH)] * 2


def act_admin(ctx):
    for label, dials, expect in ADMIN_SEQ:
        time.sleep(SPACING)
        switch(ctx, label, lambda d=dials: admin_upstreams(d), expect)
    time.sleep(SPACING)


def act_close_window(ctx):
    for label, dials, expect in ADMIN_SEQ:
        time.sleep(SPACING - 0.8)
        switch(ctx, "close on", lambda: cexec("touch", f"{FLAGS}/closing"), None)
        time.sleep(0.5)
        switch(ctx, label, lambda d=dials: admin_upstreams(d), None)
        time.sleep(0.3)
        switch(ctx, "close off", lambda: cexec("rm", "-f", f"{FLAGS}/closing"), None)
        ctx["switches"][-2]["effective_s"] = "-" if probe_versions() == expect else "WRONG"
    time.sleep(SPACING)


FLAG_SEQ = [  # shell command in the Caddy container; every step is one atomic syscall
    ("green", f"touch {FLAGS}/cx.only-green", ONLY_GREEN),
    ("blue", f"mv {FLAGS}/cx.only-green {FLAGS}/cx.only-blue", ONLY_BLUE),
    ("both", f"rm {FLAGS}/cx.only-blue", BOTH),
] * 2


def act_flags(ctx):
    for label, step, expect in FLAG_SEQ:
        time.sleep(SPACING)
        switch(ctx, label, lambda c=step: cexec("sh", "-c", c), expect)
    time.sleep(SPACING)


HEALTH_SEQ = [
    ("green", f"touch {FLAGS}/cx-blue.down", ONLY_GREEN),
    # blue back up first, green down once blue is healthy again (never none, never a gap)
    ("blue", f"rm {FLAGS}/cx-blue.down && sleep 0.5 && touch {FLAGS}/cx-green.down", ONLY_BLUE),
    ("both", f"rm {FLAGS}/cx-green.down", BOTH),
] * 2


def act_health(ctx):
    for label, step, expect in HEALTH_SEQ:
        time.sleep(SPACING)
        switch(ctx, label, lambda c=step: cexec("sh", "-c", c), expect)
    time.sleep(SPACING)


def act_dns(ctx):
    def connect(name):
        sh("docker", "network", "connect", "--alias", LIVE_ALIAS, LIVE_NET, name)

    def disconnect(name):
        sh("docker", "network", "disconnect", LIVE_NET, name)

    seq = [("green", lambda: disconnect("cx-blue"), ONLY_GREEN),
           ("blue", lambda: (connect("cx-blue"), time.sleep(1.5), disconnect("cx-green")),
            ONLY_BLUE),
           ("both", lambda: connect("cx-green"), BOTH)] * 2
    for label, step, expect in seq:
        time.sleep(SPACING)
        switch(ctx, label, step, expect)
    time.sleep(SPACING)


def act_stop_deploy(ctx):
    """v1 -> v2. Both colours always in the config; stop each gracefully, recreate, health."""
    image = ctx["images"]["v2"]
    time.sleep(1)
    t0 = time.monotonic()
    for name in COLOURS:
        switch(ctx, f"stop {name}", lambda n=name: sh("docker", "stop", "-t", "30", n), None)
        run_app(name, image)
        app_healthy_from_caddy(name)
        time.sleep(2.2)  # let fail_duration (2s) forget the failures of the stopped colour
    ctx["deploy_s"] = time.monotonic() - t0
    time.sleep(1)


def act_flags_deploy(ctx):
    """v2 -> v1. Route away (atomic flag), observe drain, stop, recreate, health, route."""
    image = ctx["images"]["v1"]
    steps = [("cx-blue", ("green", f"touch {FLAGS}/cx.only-green"),
              ("blue", f"mv {FLAGS}/cx.only-green {FLAGS}/cx.only-blue")),
             ("cx-green", None, ("both", f"rm {FLAGS}/cx.only-blue"))]
    time.sleep(1)
    t0 = time.monotonic()
    for name, route_away, route_back in steps:
        if route_away:
            switch(ctx, route_away[0], lambda c=route_away[1]: cexec("sh", "-c", c), None)
        wait_drained(f"{name}:8000")
        sh("docker", "stop", "-t", "30", name)
        run_app(name, image)
        app_healthy_from_caddy(name)
        switch(ctx, route_back[0], lambda c=route_back[1]: cexec("sh", "-c", c), None)
    ctx["deploy_s"] = time.monotonic() - t0
    time.sleep(1)


# Linux >= 5.14: a listener closing in a SO_REUSEPORT group hands its not-yet-accepted
# connections to another listener of the group instead of resetting them. Caddy (unix)
# binds a new SO_REUSEPORT socket per config and closes the old one on every reload.
MIGRATE = ("--sysctl", "net.ipv4.tcp_migrate_req=1")

SCENARIOS = {  # name: (caddyfile, image, action, extra networks of Caddy[, docker args])
    "admin": ("plain", "local/caddy:curl", act_admin, ()),
    "admin-grace": ("grace", "local/caddy:curl", act_admin, ()),
    "admin-migrate": ("plain", "local/caddy:curl", act_admin, (), MIGRATE),
    "close-window": ("close-window", "local/caddy:curl", act_close_window, ()),
    "close-migrate": ("close-window", "local/caddy:curl", act_close_window, (), MIGRATE),
    "flags": ("flags", "local/caddy:busybox", act_flags, ()),
    "health": ("health", "local/caddy:busybox", act_health, ()),
    "dns": ("dns", "local/caddy:busybox", act_dns, (LIVE_NET,)),
    "stop-deploy": ("plain", "local/caddy:busybox", act_stop_deploy, ()),
    "flags-deploy": ("flags", "local/caddy:busybox", act_flags_deploy, ()),
}


# the default run (< 5 min); admin-grace and admin-migrate only with --only
DEFAULT = ["admin", "close-window", "close-migrate", "flags", "health", "dns", "stop-deploy",
           "flags-deploy"]


# --- one measured scenario ----------------------------------------------------------------

def measure(name: str, ctx: dict) -> dict:
    caddyfile, image, action, nets, *docker_args = SCENARIOS[name]
    start_caddy(CADDYFILES[caddyfile], image, nets, *docker_args)
    for c in COLOURS:
        app_healthy_from_caddy(c)
    ctx.pop("deploy_s", None)
    ctx["switches"] = []
    bound = 90  # hard bound of every load run; the action normally ends long before
    loads = {"load GET": LoadGenerator(URL, "GET", LOAD_CONNS, LOAD_RATE, bound, timeout=10),
             "load POST": LoadGenerator(URL, "POST", LOAD_CONNS, LOAD_RATE, bound, timeout=10),
             # 4 connections that always have a 1 s request in flight
             "slow POST": LoadGenerator(URL, "POST", 4, 4, bound, path="/sleep?ms=1000",
                                        timeout=10)}
    heys = {"hey GET": Hey(URL, bound, HEY_WORKERS, HEY_Q, "GET"),
            "hey POST": Hey(URL, bound, HEY_WORKERS, HEY_Q, "POST")}
    result = {"scenario": name, "image": image}
    started = []
    try:
        for h in heys.values():
            h.start()
            started.append(h)
        for lg in loads.values():
            lg.start()
            started.append(lg)
        time.sleep(1)
        t0 = time.monotonic()
        action(ctx)
        result["action_s"] = round(time.monotonic() - t0, 1)
    finally:
        for obj in started:
            try:
                obj.stop()
            except Exception as exc:  # noqa: BLE001
                print(f"  ! stopping a load failed: {exc}", file=sys.stderr)
    if "deploy_s" in ctx:
        result["deploy_s"] = round(ctx["deploy_s"], 1)
    result["switches"] = len([x for x in ctx["switches"] if not x["label"].startswith("close ")])
    result["switch_log"] = ctx["switches"]
    for key, lg in loads.items():
        r = lg.report or {}
        # each failure: ms after the nearest switch before it (None: before any switch)
        offsets = []
        for f in r.get("failures", []):
            t = r.get("started_at", 0) + f["t"]
            before = [(t - s["t"], s["label"]) for s in ctx["switches"] if s["t"] <= t + 0.05]
            if before:
                dt, label = min(before)
                offsets.append(f"{label}+{round(dt * 1000)}")
            else:
                offsets.append(None)
        result[key] = {"sent": r.get("sent", 0), "failed": r.get("failed", 0),
                       "kinds": r.get("failure_kinds", {}), "ms_after_switch": offsets,
                       "p99": r.get("latency_ms", {}).get("p99"),
                       "versions": {v: e["count"] for v, e in r.get("versions", {}).items()},
                       # version changes in response order (1 = a clean v1 -> v2 deploy)
                       "version_changes": max(len(r.get("version_sequence", [])) - 1, 0)}
    for key, h in heys.items():
        r = h.report or {}
        result[key] = {"sent": r.get("sent", 0), "failed": r.get("failed", 0),
                       "kinds": {**{f"HTTP {c}": n for c, n in r.get("status_counts", {}).items()
                                    if not 200 <= c < 300}, **r.get("errors", {})}}
    return result


def row(r: dict) -> str:
    cells = [f"{r['scenario']:<13}", f"{r.get('switches', '?'):>3}"]
    for key in KEYS:
        m = r.get(key, {})
        cells.append(f"{m.get('failed', '?'):>4}/{m.get('sent', '?'):<5}")
    cells.append(f"{r.get('load GET', {}).get('p99', '?'):>7}")
    cells.append(f"{r.get('deploy_s', ''):>6}")
    return " | ".join(cells)


KEYS = ("load GET", "load POST", "slow POST", "hey GET", "hey POST")
HEADER = (f"{'scenario':<13} | {'sw':>3} | " + " | ".join(f"{k:<10}" for k in KEYS)
          + f" | {'p99 ms':>7} | {'deploy':>6}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=1, help="repetitions of each scenario")
    ap.add_argument("--only", default="", help="comma-separated scenario names")
    ap.add_argument("--json", default=None, help="write all results here")
    ap.add_argument("--keep", action="store_true", help="leave the cx-* containers running")
    a = ap.parse_args(argv)
    names = [n for n in (a.only.split(",") if a.only else DEFAULT) if n]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        ap.error(f"unknown scenario(s) {unknown}; known: {', '.join(SCENARIOS)}")

    t_start = time.monotonic()
    world = World.ensure(haproxy=False)
    ctx = {"images": {t: world.app_image(t) for t in ("v1", "v2")}}
    results = []
    try:
        remove(CADDY, *COLOURS)
        for net in (NET, LIVE_NET):
            subprocess.run(["docker", "network", "rm", net], capture_output=True)
            sh("docker", "network", "create", net)
        for rep in range(a.reps):
            for name in names:
                # switching scenarios: blue v1, green v2 (answers show the routing);
                # stop-deploy: v1 -> v2; flags-deploy: v2 -> v1. Both colours also on cx-live.
                tags = {"stop-deploy": ("v1", "v1"), "flags-deploy": ("v2", "v2")}
                for c, tag in zip(COLOURS, tags.get(name, ("v1", "v2")), strict=True):
                    if not _runs(c, ctx["images"][tag]):
                        run_app(c, ctx["images"][tag])
                    _ensure_live(c)
                print(f"[{time.monotonic() - t_start:5.0f}s] {name} (rep {rep + 1})", flush=True)
                r = measure(name, ctx)
                r["rep"] = rep + 1
                results.append(r)
                print("   " + row(r), flush=True)
                print("     switches (label: s until the probe saw the new routing): "
                      + ", ".join(f"{x['label']}: {x.get('effective_s', '-')}"
                                  for x in r["switch_log"]), flush=True)
                for key in KEYS:
                    if r[key]["failed"]:
                        extra = (f" ms after a switch: {r[key]['ms_after_switch']}"
                                 if "ms_after_switch" in r[key] else "")
                        print(f"     {key}: {r[key]['kinds']}{extra}", flush=True)
    finally:
        if not a.keep:
            remove(CADDY, *COLOURS)
            for net in (NET, LIVE_NET):
                subprocess.run(["docker", "network", "rm", net], capture_output=True)

    print()
    print("failed/sent per load run (slow POST: 1 s requests, 4 connections); sw = traffic "
          "switches made during the run; p99 = load GET p99 latency; deploy = s")
    print(HEADER)
    print("-" * len(HEADER))
    for r in results:
        print(row(r))
    print(f"\ntotal {time.monotonic() - t_start:.0f}s")
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1))
    return 0


def _runs(name: str, image: str) -> bool:
    p = subprocess.run(["docker", "inspect", "-f", "{{.Config.Image}} {{.State.Running}}", name],
                       capture_output=True, text=True)
    return p.returncode == 0 and p.stdout.strip() == f"{image} true"


def _ensure_live(name: str):
    nets = sh("docker", "inspect", "-f", "{{json .NetworkSettings.Networks}}", name)
    if LIVE_NET not in json.loads(nets):
        sh("docker", "network", "connect", "--alias", LIVE_ALIAS, LIVE_NET, name)


if __name__ == "__main__":
    sys.exit(main())
