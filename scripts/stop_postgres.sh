#!/usr/bin/env bash
# Stop the server started by scripts/start_postgres.sh (data stays under var/pg;
# pass --purge to delete it as well).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PGDATA_ROOT="${DAGSTER_PG_DIR:-$ROOT/var/pg}"
PGDATA="$PGDATA_ROOT/data"
PG_CTL="$(command -v pg_ctl || ls /usr/lib/postgresql/*/bin/pg_ctl 2>/dev/null | tail -1)"
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if [ -f "$PGDATA/PG_VERSION" ] && as_pg "$PG_CTL" -D "$PGDATA" status >/dev/null 2>&1; then
  as_pg "$PG_CTL" -D "$PGDATA" -m fast -w stop >&2
else
  echo "stop_postgres: no server running in $PGDATA" >&2
fi
if [ "${1:-}" = "--purge" ]; then rm -rf "$PGDATA_ROOT"; echo "stop_postgres: removed $PGDATA_ROOT" >&2; fi
