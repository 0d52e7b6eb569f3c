#!/usr/bin/env bash
# Demo (until the deploy engine's demo replaces it): bring the article stack up on the SSH
# "remote" of the test world, send 5 s of load through Caddy, print the counts, tear it down.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
eval "$($PY -m testworld env)"             # DOCKER_HOST=ssh://deploy@127.0.0.1:2222 + ssh wrapper
dir=$(mktemp -d) project=bluegreen-demo
port=$($PY -c 'from testworld.common import free_port; print(free_port())')
compose() { docker compose -p "$project" -f "$dir/compose.yaml" "$@"; }
trap 'compose down -v --remove-orphans -t 5 >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT

$PY -m testworld render article "$dir" --app demo --port "$port" >/dev/null
echo "stack: $dir/compose.yaml, remote: $DOCKER_HOST"
compose up -d --wait 2>&1 | tail -n 3
compose ps --format '  {{.Name}}  {{.Image}}  {{.Status}}'
echo "5 s of GET load through Caddy on http://127.0.0.1:$port/ :"
$PY -m testworld.load "http://127.0.0.1:$port/" --duration 5 --rate 200 --concurrency 10
