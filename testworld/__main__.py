"""python -m testworld up | status | down [--engine]"""

import argparse
import json
import sys
import time

from .world import World


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m testworld", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="bring the world up (idempotent)")
    up.add_argument("--no-haproxy", action="store_true", help="skip the HAProxy image")
    sub.add_parser("status", help="show what runs")
    down = sub.add_parser("down", help="stop world containers, sshd and registries")
    down.add_argument("--engine", action="store_true",
                      help="also stop dockerd, if (and only if) the world started it")
    args = parser.parse_args(argv)

    if args.cmd == "up":
        t0 = time.monotonic()
        world = World.ensure(haproxy=False if args.no_haproxy else None)
        print(f"world up in {time.monotonic() - t0:.1f}s: sshd {world.docker_host}, "
              f"registries {world.registry} and {world.auth_registry} (user {world.auth_user})")
    elif args.cmd == "status":
        status = World.load().status()
        print(json.dumps(status, indent=2))
        return 0 if status["engine"] == "up" and status["sshd"] == "up" else 1
    else:
        World.load().down(engine_too=args.engine)
        print("world down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
