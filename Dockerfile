# The image of the GitHub Action (action.yml: `runs: using: docker`). The runner builds it
# from this file, runs it as root with the workspace as working directory, and sets the
# inputs as INPUT_* variables. It needs the docker CLI with the compose plugin (they run
# against the server's engine over SSH) and the OpenSSH client; no Docker engine.
#
# Build arguments, for building somewhere without Docker Hub or PyPI (the project's tests):
#   BASE_IMAGE  another Debian 13 based image with python3 and its venv module
#   WHEELS      a folder of the build context holding the package's wheel and those of its
#               dependencies, installed without an index (default: install from source,
#               dependencies from PyPI)
ARG BASE_IMAGE=python:3.12-slim
FROM ${BASE_IMAGE}

# Debian 13 packages: Docker CLI 26, Compose v2 (as the CLI plugin), OpenSSH client.
# Versions are not pinned: Debian's stable updates only bring fixes.
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      docker-cli docker-compose openssh-client \
 && rm -rf /var/lib/apt/lists/* \
 && docker compose version

COPY . /tmp/src
ARG WHEELS=""
RUN python3 -m venv /opt/bluegreen \
 && if [ -n "$WHEELS" ]; then \
      /opt/bluegreen/bin/pip install --no-cache-dir --no-index --find-links "/tmp/src/$WHEELS" bluegreen-action; \
    else \
      /opt/bluegreen/bin/pip install --no-cache-dir /tmp/src; \
    fi \
 && cp /tmp/src/entrypoint.py /entrypoint.py \
 && rm -rf /tmp/src \
 && /opt/bluegreen/bin/python -c "import bluegreen_action.engine, bluegreen_action.github"

ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
ENTRYPOINT ["/opt/bluegreen/bin/python", "/entrypoint.py"]
