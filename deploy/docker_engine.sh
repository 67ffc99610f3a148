#!/usr/bin/env bash
# Make sure a Docker engine answers: use a running one, else (as root) install Debian's docker.io
# and docker-compose if missing and start dockerd in the background (overlay2; the host's cgroup
# setup, v1 on these machines). Exit 0 when `docker info` answers, 3 when no engine can run here
# (the reason on stderr), so callers can skip cleanly.
#
#   deploy/docker_engine.sh            # log: var/deploy/dockerd.log
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
LOG="$ROOT/var/deploy/dockerd.log"
log() { echo "docker_engine: $*" >&2; }
cannot() { log "cannot run Docker here: $*"; exit 3; }

if docker info >/dev/null 2>&1; then
  exit 0
fi
[ "$(id -u)" -eq 0 ] || cannot "no engine answers and we are not root to start one"

need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 || need+=(docker-compose)
if [ "${#need[@]}" -gt 0 ]; then
  log "installing ${need[*]} (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q "${need[@]}" >&2 \
    || { apt-get update -q >&2 && apt-get install -y -q "${need[@]}" >&2; } \
    || cannot "apt-get install ${need[*]} failed"
fi

mkdir -p "$(dirname "$LOG")"
log "starting dockerd (overlay2, no default bridge: containers use the host network)"
# --bridge=none: no docker0 network; every container here runs with network_mode host.
nohup dockerd --storage-driver=overlay2 --bridge=none --iptables=false >"$LOG" 2>&1 &
for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    log "dockerd is up ($(docker info --format '{{.ServerVersion}}, {{.Driver}}, cgroup v{{.CgroupVersion}}'))"
    exit 0
  fi
  if ! pgrep -x dockerd >/dev/null; then
    cannot "dockerd exited: $(tail -3 "$LOG" | tr '\n' ' ')"
  fi
  sleep 1
done
cannot "dockerd did not answer within 60 s (see $LOG)"
