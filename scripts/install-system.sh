#!/usr/bin/env bash
# Installs what the test world needs on Debian 12, skipping whatever is already there:
# Docker Engine >= 25 with Compose v2, openssh-server, a registry, hey, HAProxy, debootstrap,
# busybox-static. A machine that already has Docker (a GitHub runner, a laptop) keeps its own.
set -euo pipefail
log() { printf '[install] %s\n' "$*"; }

need_apt=()
have() { command -v "$1" >/dev/null 2>&1; }
have sshd || [ -x /usr/sbin/sshd ] || need_apt+=(openssh-server)
have docker-registry || need_apt+=(docker-registry)
have htpasswd || need_apt+=(apache2-utils)
have hey || need_apt+=(hey)
have debootstrap || need_apt+=(debootstrap)
[ -f /usr/share/keyrings/debian-archive-keyring.gpg ] || need_apt+=(debian-archive-keyring)
[ -x /bin/busybox ] && /bin/busybox --help 2>&1 | grep -q 'statically' || dpkg -s busybox-static >/dev/null 2>&1 || need_apt+=(busybox-static)
have haproxy || [ -x /usr/sbin/haproxy ] || need_apt+=(haproxy)
have unzip || need_apt+=(unzip)
have curl || need_apt+=(curl)

engine_version() { dockerd --version 2>/dev/null | sed -E 's/^Docker version ([0-9]+)\..*/\1/'; }
docker_ok=0
if have dockerd && [ "$(engine_version)" -ge 25 ] 2>/dev/null && docker compose version >/dev/null 2>&1; then
  docker_ok=1
elif docker info >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
  docker_ok=1   # a running engine we do not own (e.g. Docker Desktop, a CI runner)
fi
[ "$docker_ok" = 1 ] || have dockerd || need_apt+=(docker.io)

if [ ${#need_apt[@]} -gt 0 ]; then
  log "apt-get install ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  # Debian's packages start their services on install; the test world runs its own instances
  # (only right after an install: a running test world's registries must not be killed).
  for svc in docker-registry haproxy ssh; do
    systemctl disable --now "$svc" >/dev/null 2>&1 || service "$svc" stop >/dev/null 2>&1 || true
  done
  pkill -x docker-registry 2>/dev/null || true
fi

if [ "$docker_ok" != 1 ]; then
  # Debian 12's engine (20.10) is too old for healthcheck.start_interval; take Engine 26 and
  # Compose 2.26 from Debian 13's packages without switching the machine to Debian 13.
  mirror=$( { awk '/^URIs:/ {print $2}' /etc/apt/sources.list.d/*.sources 2>/dev/null;
              awk '/^deb / && $2 !~ /security/ {print ($2 ~ /^\[/ ? $3 : $2)}' /etc/apt/sources.list 2>/dev/null; } \
            | grep -v -e security -e '^$' | head -n1 || true)
  [ -n "$mirror" ] || { echo "no Debian mirror found in the apt sources" >&2; exit 1; }
  log "Docker Engine 26 + Compose v2 from Debian 13 packages ($mirror)"
  T=$(mktemp -d); mkdir -p "$T/lists/partial"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" >"$T/sources.list"
  o=(-oAPT::Sandbox::User=root -oDir::State::Lists="$T/lists" -oDir::Etc::SourceList="$T/sources.list" -oDir::Etc::SourceParts=/dev/null)
  apt-get "${o[@]}" update -qq
  (cd "$T" && apt-get "${o[@]}" download docker.io docker-compose >/dev/null)
  DEBIAN_FRONTEND=noninteractive dpkg -i --force-confold "$T"/docker.io_*.deb >/dev/null
  dpkg -x "$T"/docker-compose_*.deb /
  rm -rf "$T"
  systemctl disable --now docker.service docker.socket >/dev/null 2>&1 || true
fi
docker compose version >/dev/null || { echo "docker compose (v2) is still missing" >&2; exit 1; }
log "ready: $(dockerd --version 2>/dev/null || echo 'engine: external'); $(docker compose version)"
