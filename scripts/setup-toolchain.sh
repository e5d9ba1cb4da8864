#!/usr/bin/env bash
# Brings up everything buildopt needs on a fresh Debian machine, skipping each step already done:
# a Docker engine, the buildx and compose plugins, a python:3.11-slim base (a debootstrap stand-in when it can't be
# pulled), Chromium for the HTML report's browser test, Debian's docker-registry (the tests run their own on
# 127.0.0.1 for the build-cache proof; its system service is never started) and the project venv with the trivy
# extra. On a normal machine (engine up, registry
# reachable) it changes nothing outside the venv. It never stops a daemon it did not start.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=${BUILDOPT_VENV:-$ROOT/.venv}
STATE=${BUILDOPT_STATE:-$HOME/.cache/buildopt}
BASE_IMAGE=${BUILDOPT_BASE_IMAGE:-python:3.11-slim}
mkdir -p "$STATE"

log() { printf '[setup] %s\n' "$*" >&2; }
is_root() { [ "$(id -u)" = 0 ]; }
have() { command -v "$1" >/dev/null 2>&1; }

apt_updated=""
apt_update_once() {
  [ -n "$apt_updated" ] && return 0
  log "apt-get update"
  apt-get update -qq >/dev/null
  apt_updated=1
}

# Fetch .deb files from Debian 13 (trixie) without touching the system's apt sources.
trixie_download() {
  local dest=$1; shift
  local tmp mirror
  tmp=$(mktemp -d)
  mirror=$( (grep -rhoE 'https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null || true) | head -n1 | tr -d ' ')
  [ -n "$mirror" ] || { log "no Debian mirror found in the apt sources"; return 1; }
  echo "deb ${mirror%/} trixie main" >"$tmp/sources.list"
  mkdir -p "$tmp/lists/partial"
  local opts=(-o "Dir::Etc::sourcelist=$tmp/sources.list" -o Dir::Etc::sourceparts=/nonexistent -o "Dir::State::Lists=$tmp/lists")
  apt-get "${opts[@]}" update -qq >/dev/null
  (cd "$dest" && apt-get "${opts[@]}" download "$@" >/dev/null)
  rm -rf "$tmp"
}

engine_up() { docker info >/dev/null 2>&1; }

ensure_engine() {
  if engine_up; then log "docker engine: already running"; return 0; fi
  is_root || { log "docker engine is not reachable and this is not root: start dockerd yourself"; return 1; }
  if ! have dockerd; then
    log "installing docker.io 26 from Debian trixie (takes a minute or two)"
    apt_update_once
    local debs; debs=$(mktemp -d)
    trixie_download "$debs" docker.io
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$debs"/docker.io_*.deb >/dev/null
    rm -rf "$debs"
  fi
  log "starting dockerd (log: $STATE/dockerd.log)"
  setsid dockerd >"$STATE/dockerd.log" 2>&1 </dev/null &
  echo $! >"$STATE/dockerd.pid"
  for _ in $(seq 1 60); do engine_up && { log "docker engine: up"; return 0; }; sleep 1; done
  log "dockerd did not answer in 60 s; see $STATE/dockerd.log"; return 1
}

# A docker CLI plugin from its Debian trixie package (docker-buildx, docker-compose: static binaries).
install_cli_plugin() {
  local package=$1 tmp
  log "installing the $package plugin from Debian trixie"
  apt_update_once
  tmp=$(mktemp -d)
  trixie_download "$tmp" "$package"
  dpkg -x "$tmp/${package}"_*.deb "$tmp/x"
  mkdir -p /usr/local/lib/docker/cli-plugins
  cp "$tmp/x/usr/libexec/docker/cli-plugins/$package" /usr/local/lib/docker/cli-plugins/
  rm -rf "$tmp"
}

ensure_buildx() {
  if docker buildx version >/dev/null 2>&1; then log "buildx: $(docker buildx version | awk '{print $2}')"; return 0; fi
  is_root || { log "buildx missing and not root: install the docker-buildx plugin"; return 1; }
  install_cli_plugin docker-buildx
  docker buildx version >/dev/null
}

# Docker Compose v2 (Debian 13's docker-compose 2.26, a static plugin binary), for `buildopt promote`.
ensure_compose() {
  if docker compose version >/dev/null 2>&1; then log "compose: $(docker compose version --short 2>/dev/null)"; return 0; fi
  is_root || { log "compose missing and not root: install the docker-compose v2 plugin"; return 1; }
  install_cli_plugin docker-compose
  docker compose version >/dev/null
}

# A python:3.11-slim stand-in: Debian bookworm minbase + python3, with the host CA bundle.
ensure_base_image() {
  if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then log "base image $BASE_IMAGE: present"; return 0; fi
  log "pulling $BASE_IMAGE"
  if timeout 60 docker pull -q "$BASE_IMAGE" >/dev/null 2>&1; then return 0; fi
  is_root || { log "cannot pull $BASE_IMAGE and not root to debootstrap a stand-in"; return 1; }
  log "registry unreachable: building a $BASE_IMAGE stand-in with debootstrap (about a minute)"
  have debootstrap || { apt_update_once; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
  local rootfs; rootfs=$(mktemp -d)
  # Expanded now and cleared when it fires: a RETURN trap outlives the function and `rootfs` is local.
  trap "rm -rf '$rootfs'; trap - RETURN" RETURN
  debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,python-is-python3,ca-certificates \
    bookworm "$rootfs" >"$STATE/debootstrap.log" 2>&1
  cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
  rm -f "$rootfs"/usr/lib/python3.*/EXTERNALLY-MANAGED
  rm -rf "$rootfs"/var/cache/apt/* "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | docker import -c 'CMD ["python3"]' -c 'ENV LANG=C.UTF-8' - "$BASE_IMAGE" >/dev/null
  log "base image $BASE_IMAGE: imported ($(docker image inspect -f '{{.Size}}' "$BASE_IMAGE") bytes)"
}

# Headless Chromium for the HTML report's browser test (Debian's package; no browser download).
ensure_chromium() {
  if have chromium; then log "chromium: $(chromium --version 2>/dev/null | head -n1)"; return 0; fi
  is_root || { log "chromium missing and not root: apt-get install chromium (the browser test needs it)"; return 0; }
  log "installing chromium from Debian (the HTML report's browser test)"
  apt_update_once
  DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 apt-get install -y -qq --no-install-recommends \
    chromium fonts-dejavu-core >/dev/null </dev/null
  log "chromium: $(chromium --version 2>/dev/null | head -n1)"
}

# Root runs apt itself; a non-root user with passwordless sudo (GitHub's runners) runs it through sudo -n.
as_root() {
  if is_root; then "$@"; elif have sudo && sudo -n true 2>/dev/null; then sudo -n "$@"; else return 1; fi
}

ensure_registry() {
  if have docker-registry; then log "docker-registry: present"; return 0; fi
  log "installing Debian's docker-registry (the tests start their own on 127.0.0.1)"
  # policy-rc.d 101: the package's service must not start (nothing here runs a service manager anyway).
  as_root sh -c 'apt-get update -qq >/dev/null && printf "#!/bin/sh\nexit 101\n" >/usr/sbin/policy-rc.d.buildopt \
      && chmod +x /usr/sbin/policy-rc.d.buildopt \
      && { [ -e /usr/sbin/policy-rc.d ] || ln -s /usr/sbin/policy-rc.d.buildopt /usr/sbin/policy-rc.d; } \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-registry >/dev/null; \
      status=$?; [ "$(readlink /usr/sbin/policy-rc.d 2>/dev/null)" = /usr/sbin/policy-rc.d.buildopt ] && rm -f /usr/sbin/policy-rc.d; \
      rm -f /usr/sbin/policy-rc.d.buildopt; exit $status' \
    || { log "could not install docker-registry (not root, no passwordless sudo): the registry cache tests will say so"; return 0; }
}

ensure_venv() {
  local stamp="$VENV/.buildopt-installed"
  if [ -x "$VENV/bin/buildopt" ] && [ -f "$stamp" ] && [ "$stamp" -nt "$ROOT/pyproject.toml" ]; then
    log "venv $VENV: up to date"; return 0
  fi
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  log "installing buildopt[trivy,test] into $VENV"
  "$VENV/bin/pip" install -q -e "$ROOT[trivy,test]"
  touch "$stamp"
}

main() {
  local what=${1:-all}
  case $what in
    venv) ensure_venv ;;
    all) ensure_engine; ensure_buildx; ensure_compose; ensure_base_image; ensure_chromium; ensure_registry; ensure_venv ;;
    *) echo "usage: $0 [all|venv]" >&2; exit 2 ;;
  esac
}
main "$@"
