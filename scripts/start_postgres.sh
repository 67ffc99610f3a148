#!/usr/bin/env bash
# Start a throwaway PostgreSQL server for the production-like Dagster instance and its tests.
#
#   scripts/start_postgres.sh [PORT]       # PORT: given, or $DAGSTER_PG_PORT, or a free one
#   eval "$(scripts/start_postgres.sh)"    # exports DAGSTER_PG_* and DAGSTER_PG_DSN
#
# Installs the Debian `postgresql` package if initdb is missing, keeps its data under
# var/pg (git-ignored), listens on 127.0.0.1 only with trust auth on loopback, and creates
# the database `dagster`. Runs the server as the `postgres` user when started as root.
# Progress goes to stderr; stdout carries only `export ...` lines.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PGDATA_ROOT="${DAGSTER_PG_DIR:-$ROOT/var/pg}"
PGDATA="$PGDATA_ROOT/data"
DB="${DAGSTER_PG_DB:-dagster}"
USER_NAME="${DAGSTER_PG_USER:-postgres}"
log() { echo "start_postgres: $*" >&2; }

find_bin() {
  local name="$1" dir
  if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return; fi
  for dir in /usr/lib/postgresql/*/bin; do
    [ -x "$dir/$name" ] && { echo "$dir/$name"; return; }
  done
  return 1
}

if ! find_bin initdb >/dev/null; then
  log "installing postgresql (apt-get)"
  if [ "$(id -u)" -ne 0 ]; then log "not root: install postgresql yourself"; exit 1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2 \
    || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2; }
fi
INITDB="$(find_bin initdb)"; PG_CTL="$(find_bin pg_ctl)"; PSQL="$(find_bin psql)"

as_pg() {  # run a server command as the postgres user when we are root (initdb refuses root)
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

mkdir -p "$PGDATA_ROOT"
[ "$(id -u)" -eq 0 ] && chown postgres: "$PGDATA_ROOT"
if [ ! -f "$PGDATA/PG_VERSION" ]; then
  log "initdb $PGDATA"
  as_pg "$INITDB" -D "$PGDATA" -U postgres --auth=trust --encoding=UTF8 --no-locale >&2
fi

if as_pg "$PG_CTL" -D "$PGDATA" status >/dev/null 2>&1; then
  PORT="$(sed -n 4p "$PGDATA/postmaster.pid")"
  log "already running on port $PORT"
else
  PORT="${1:-${DAGSTER_PG_PORT:-$(free_port)}}"
  log "starting on 127.0.0.1:$PORT"
  as_pg "$PG_CTL" -D "$PGDATA" -l "$PGDATA_ROOT/server.log" -w -t 60 start \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -k $PGDATA_ROOT -c fsync=off" >&2
fi

if ! "$PSQL" -h 127.0.0.1 -p "$PORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$DB'" \
    | grep -q 1; then
  "$PSQL" -h 127.0.0.1 -p "$PORT" -U postgres -c "CREATE DATABASE \"$DB\"" >&2
fi
echo "export DAGSTER_PG_HOST=127.0.0.1"
echo "export DAGSTER_PG_PORT=$PORT"
echo "export DAGSTER_PG_USER=$USER_NAME"
echo "export DAGSTER_PG_PASSWORD="
echo "export DAGSTER_PG_DB=$DB"
echo "export DAGSTER_PG_DSN=postgresql://$USER_NAME@127.0.0.1:$PORT/$DB"
