#!/usr/bin/env bash
# Run deploy/compose.yaml on this Docker host with the variables it needs.
#
#   deploy/stack.sh up [SERVICE...]   # start (all services, or the ones named)
#   deploy/stack.sh down              # stop and remove the stack and every run/step container
#   deploy/stack.sh wait SERVICE...   # until each service's healthcheck passes (5 min at most)
#   deploy/stack.sh env               # print the stack's variables (export lines)
#   deploy/stack.sh compose ARGS...   # any docker-compose command (ps, logs, ...)
#
# Defaults: images curation:local and curation-postgres:local, ports 13000 (UI), 14000 (gRPC),
# 15000 (S3), 15432 (PostgreSQL); override with CURATION_IMAGE, CURATION_PG_IMAGE,
# CURATION_WEB_PORT, CURATION_GRPC_PORT, CURATION_S3_PORT, DAGSTER_PG_PORT. The database password
# is generated on first use and kept in var/deploy/<stack>.env (mode 600), never in git.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
export CURATION_STACK="${CURATION_STACK:-curation}"
STATE="$ROOT/var/deploy/$CURATION_STACK.env"
log() { echo "stack: $*" >&2; }

compose() {
  if command -v docker-compose >/dev/null; then
    docker-compose -p "$CURATION_STACK" -f "$ROOT/deploy/compose.yaml" "$@"
  else
    docker compose -p "$CURATION_STACK" -f "$ROOT/deploy/compose.yaml" "$@"
  fi
}

load_env() {
  mkdir -p "$(dirname "$STATE")"
  if [ ! -f "$STATE" ]; then
    (umask 077 && echo "DAGSTER_PG_PASSWORD=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$STATE")
  fi
  set -a
  # shellcheck disable=SC1090
  . "$STATE"
  set +a
  export CURATION_IMAGE="${CURATION_IMAGE:-curation:local}"
  export CURATION_PG_IMAGE="${CURATION_PG_IMAGE:-curation-postgres:local}"
  export CURATION_WEB_PORT="${CURATION_WEB_PORT:-13000}"
  export CURATION_GRPC_PORT="${CURATION_GRPC_PORT:-14000}"
  export CURATION_S3_PORT="${CURATION_S3_PORT:-15000}"
  export DAGSTER_PG_PORT="${DAGSTER_PG_PORT:-15432}"
  export CURATION_BUCKET="${CURATION_BUCKET:-curation}"
  export CURATION_WEB_URL="http://127.0.0.1:$CURATION_WEB_PORT"
  # Run containers start step containers through the socket: they join its group.
  DOCKER_GID="$(stat -c %g /var/run/docker.sock)"
  export DOCKER_GID
}

remove_launched() {  # run and step containers are not compose's: they carry the stack's label
  local ids
  ids=$(docker ps -aq --filter "label=curation.stack=$CURATION_STACK")
  if [ -n "$ids" ]; then
    log "removing $(echo "$ids" | wc -l) run/step container(s)"
    # shellcheck disable=SC2086
    docker rm -f $ids >/dev/null
  fi
}

wait_healthy() {  # compose v1 has no `up --wait`: poll each container's healthcheck
  local service id status
  for service in "$@"; do
    for _ in $(seq 1 150); do
      id=$(compose ps -q "$service" 2>/dev/null || true)
      status=""
      [ -z "$id" ] || status=$(docker inspect -f '{{.State.Health.Status}}' "$id" 2>/dev/null || true)
      [ "$status" = healthy ] && break
      sleep 2
    done
    [ "$status" = healthy ] || { log "$service is not healthy ($status) after 5 minutes"; return 1; }
  done
}

load_env
case "${1:-}" in
  up)
    shift
    compose up -d "$@"
    [ $# -gt 0 ] || log "UI on $CURATION_WEB_URL"
    ;;
  wait)
    shift
    wait_healthy "$@"
    ;;
  down)
    compose down -v --remove-orphans --timeout 10 || true
    remove_launched
    ;;
  env)
    for name in CURATION_STACK CURATION_IMAGE CURATION_PG_IMAGE CURATION_WEB_PORT \
      CURATION_GRPC_PORT CURATION_S3_PORT DAGSTER_PG_PORT CURATION_BUCKET CURATION_WEB_URL \
      DOCKER_GID; do
      echo "export $name=${!name}"
    done
    ;;
  compose)
    shift
    compose "$@"
    ;;
  *)
    sed -n 2,12p "$0" >&2
    exit 2
    ;;
esac
