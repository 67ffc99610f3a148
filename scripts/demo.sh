#!/usr/bin/env bash
# The demo, end to end: install (first time), fetch real text, run every asset in a local
# Dagster instance under var/, print where the published datasets and the report are.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m assets.demo "$@"
