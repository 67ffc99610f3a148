#!/usr/bin/env bash
# The project's test command (README): set up if needed, lint, start a local PostgreSQL for the
# production-configuration tests (skipped if it cannot start), then the default test suite.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m slow` for the long tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
ruff check .
ruff format --check .
if pg_env=$(bash scripts/start_postgres.sh 2>var-pg.log); then
  eval "$pg_env"
  trap 'bash scripts/stop_postgres.sh >/dev/null 2>&1 || true' EXIT
else
  echo "test: PostgreSQL unavailable (see var-pg.log); its tests will be skipped" >&2
fi
rm -f var-pg.log
python -m pytest -q -n 2 --dist loadfile "$@"
