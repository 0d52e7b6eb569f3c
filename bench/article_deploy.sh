#!/usr/bin/env bash
# The article's deploy script as published (fixed `sleep 10`s, the positional Caddy path,
# curl health checks from inside the app), parametrised only by the app's name and the
# old/new tags so the benchmark runs it on the test world's article stack.
# Run in the stack's folder with DOCKER_HOST and COMPOSE_PROJECT_NAME set.
set -e
APP=$1 OLD=$2 NEW=$3

prepare() {
  sed -i "s/sample-app:$OLD/sample-app:$NEW/" compose.yaml
  docker compose pull
  docker compose up -d --no-recreate
}

route_traffic() {
  echo "Routing traffic to $1"
  case $1 in
    "blue") upstreams="[{\"dial\":\"$APP-blue:8000\"}]" ;;
    "green") upstreams="[{\"dial\":\"$APP-green:8000\"}]" ;;
    "bluegreen") upstreams="[{\"dial\":\"$APP-blue:8000\"},{\"dial\":\"$APP-green:8000\"}]" ;;
  esac
  docker compose exec "$APP-caddy" curl \
    -H "Content-Type: application/json" \
    -d "$upstreams" \
    -X PATCH http://localhost:2019/config/apps/http/servers/srv0/routes/0/handle/0/upstreams
}

restart() {
  echo "Restarting $1"
  container="$APP-$1"
  docker compose down "$container"
  docker compose up -d "$container"
}

wait_healthy() {
  echo "Waiting for $1 to be healthy"
  container="$APP-$1"
  if docker compose exec "$container" \
    curl -I --retry 30 --retry-max-time 0 --retry-all-errors --fail-with-body http://localhost:8000/health
  then
    echo "$1 is healthy"
  else
    echo "$1 failed to start!"
    exit 1
  fi
}

prepare
route_traffic green
sleep 10
restart blue
wait_healthy blue
route_traffic blue
sleep 10
restart green
wait_healthy green
route_traffic bluegreen
# the article ends with `docker image prune -f`; left out: it would remove the images other
# benchmark runs and tests need
