#!/usr/bin/env bash
# The demo, end to end: install (first time), fetch real text, run every asset in a local
# Dagster instance under var/, print where the published datasets and the report are.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export MIMALLOC_PURGE_DELAY=${MIMALLOC_PURGE_DELAY:-0}  # the reorder stays under its memory cap
exec .venv/bin/python -m demo "$@"
