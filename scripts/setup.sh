#!/usr/bin/env bash
# README command 1: prepare everything on a fresh Debian 12 machine (as root), skipping what is
# already there, then run the demo. Steps: system packages (Docker Engine >= 25 + Compose v2,
# sshd, registry, hey, ...), the Python venv, the test world (engine, registries, sshd
# "remote", images), the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n==> %s\n' "$*"; }
started=$SECONDS

step "system packages"
bash scripts/install-system.sh

step "python venv (.venv)"
if ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
stamp=".venv/.installed-$(cat pyproject.toml | sha256sum | cut -c1-16)"
if [ -f "$stamp" ] && [ -x .venv/bin/bluegreen ]; then
  echo "up to date"
else
  .venv/bin/python -m pip install -q -e '.[dev]'
  rm -f .venv/.installed-* && touch "$stamp"
  echo "installed $(.venv/bin/python -m pip list 2>/dev/null | wc -l) packages"
fi

step "test world"
.venv/bin/python -m testworld up

step "demo"
bash scripts/demo.sh

printf '\nsetup done in %ss\n' "$((SECONDS - started))"
