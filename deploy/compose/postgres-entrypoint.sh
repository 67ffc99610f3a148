#!/bin/sh
# Initialise a cluster on first start (password auth, scram-sha-256) and serve it on loopback.
# PGDATA, PGPORT, POSTGRES_USER, POSTGRES_PASSWORD and POSTGRES_DB come from the environment.
set -eu
: "${PGDATA:=/var/lib/postgresql/data}" "${PGPORT:=5432}" "${POSTGRES_USER:=dagster}"
: "${POSTGRES_DB:=dagster}" "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}"
BIN=/usr/lib/postgresql/15/bin
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pw=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pw"
  "$BIN/initdb" -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$pw" --auth=scram-sha-256 \
    --encoding=UTF8 --no-locale >/dev/null
  rm -f "$pw"
  "$BIN/pg_ctl" -D "$PGDATA" -w -o "-c listen_addresses='' -k /tmp" start >/dev/null
  PGPASSWORD="$POSTGRES_PASSWORD" "$BIN/psql" -h /tmp -U "$POSTGRES_USER" -d postgres -qc "CREATE DATABASE \"$POSTGRES_DB\"" \
    || true
  "$BIN/pg_ctl" -D "$PGDATA" -w stop >/dev/null
fi
exec "$BIN/postgres" -D "$PGDATA" -p "$PGPORT" -k /tmp -c listen_addresses=127.0.0.1 \
  -c fsync="${POSTGRES_FSYNC:-on}"
