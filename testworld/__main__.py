"""python -m testworld up | status | down [--engine] | env | render KIND DIR [...]"""

import argparse
import json
import shlex
import sys
import time

from . import stacks
from .world import World


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m testworld", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="bring the world up (idempotent)")
    up.add_argument("--no-haproxy", action="store_true", help="skip the HAProxy image")
    up.add_argument("--no-host-b", action="store_true",
                    help="skip the second host (sshd on 2223 with its own Docker Engine)")
    sub.add_parser("status", help="show what runs")
    down = sub.add_parser("down", help="stop world containers, sshd and registries")
    down.add_argument("--engine", action="store_true",
                      help="also stop dockerd, if (and only if) the world started it")
    sub.add_parser("env", help="print `export` lines for docker/compose against the SSH remote")
    render = sub.add_parser("render", help="render a stack; prints its compose file path")
    render.add_argument("kind", choices=list(stacks.KINDS))
    render.add_argument("dir")
    render.add_argument("--app", default="zdd")
    render.add_argument("--port", type=int, default=18080)
    render.add_argument("--tag", default="v1")
    render.add_argument("--boot-delay", type=float, default=3)
    args = parser.parse_args(argv)

    if args.cmd == "up":
        t0 = time.monotonic()
        world = World.ensure(haproxy=False if args.no_haproxy else None,
                             second_host=False if args.no_host_b else None)
        print(f"world up in {time.monotonic() - t0:.1f}s: remote {world.docker_host}, "
              f"registries {world.registry} and {world.auth_registry} (user {world.auth_user})")
    elif args.cmd == "status":
        status = World.load().status()
        print(json.dumps(status, indent=2))
        return 0 if status["engine"] == "up" and status["sshd"] == "up" else 1
    elif args.cmd == "env":
        world = World.load()
        print(f"export DOCKER_HOST={shlex.quote(world.docker_host)}")
        print(f"export PATH={shlex.quote(str(world.bin_dir))}:\"$PATH\"")
    elif args.cmd == "render":
        print(World.load().render_stack(args.kind, args.dir, app=args.app, port=args.port,
                                        tag=args.tag, boot_delay=args.boot_delay))
    else:
        World.load().down(engine_too=args.engine)
        print("world down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
