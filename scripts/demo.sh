#!/usr/bin/env bash
# The end of README command 1: a real zero-downtime deploy on the local test world
# (v1 -> v2 -> v1 under load, phases, times and request counts printed).
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python scripts/demo.py
