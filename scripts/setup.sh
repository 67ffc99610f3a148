#!/usr/bin/env bash
# Create .venv with the pinned dependencies (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
python -m pip install -q --upgrade pip
# torch first, pinned, so nothing pulls a CUDA build
python -m pip install -q torch==2.13.0
python -m pip install -q -c requirements.lock -e '.[dev]'
python -m pip check
