"""Sample-app images that fail the way real releases do, for failure-safety tests. Built
from the v2 image on demand (not by `World.ensure`) and pushed to the plain registry:

  crash       exits at boot with a config error, like an app missing a setting
  sick-green  v2 whose /health answers 500 in the container whose APP_COLOR is `green`
              (a per-container fault: one colour becomes healthy, the other never does)
"""
from __future__ import annotations

from . import images

FAULTS = {
    "crash": ("echo 'sample-app crash: fatal: cannot read /etc/app/config.toml: "
              "no such file or directory' >&2\nexit 3\n"),
    "sick-green": ('if [ "$APP_COLOR" = green ]; then export APP_HEALTHY=0; fi\n'
                   "exec python3 /app/app.py\n"),
}
BASE = "v2"


def ensure_fault_images(registry: str = "127.0.0.1:5000") -> dict[str, str]:
    """Build and push every fault image; returns tag -> image reference."""
    base = f"local/{images.APP_REPO}:{BASE}"
    refs = {}
    for tag, script in FAULTS.items():
        local = f"local/{images.APP_REPO}:{tag}"
        images.build(local, images.DOCKERFILES / "app-fault.Dockerfile", {"start.sh": script},
                     {"BASE": base, "FAULT_VERSION": tag}, base=base)
        images.push(local, registry, images.APP_REPO, tag)
        refs[tag] = images.app_image(tag, registry)
    return refs
