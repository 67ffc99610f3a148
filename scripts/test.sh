#!/usr/bin/env bash
# The project's test command (README): lint, then the default (fast) test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] && . .venv/bin/activate
ruff check .
python -m pytest -q -n 2 "$@"
