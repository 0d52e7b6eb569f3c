#!/usr/bin/env bash
# README command 2: the whole test suite (unit + integration). Arguments go to pytest, e.g.
#   scripts/test.sh -q             scripts/test.sh -m "not integration"
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || { echo "no .venv: run scripts/setup.sh first" >&2; exit 1; }
echo "==> test world"
.venv/bin/python -m testworld up
echo "==> pytest $*"
exec .venv/bin/python -m pytest "$@"
