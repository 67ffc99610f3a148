#!/usr/bin/env bash
# Create .venv with the pinned dependencies. Idempotent: skipped when the pins are unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
stamp=.venv/.installed-$(cat pyproject.toml requirements.lock | sha256sum | cut -c1-16)
if [ -f "$stamp" ]; then
  exit 0
fi
echo "setup: creating .venv with pinned dependencies (first run: a few minutes)" >&2
[ -x .venv/bin/python ] || "$PY" -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
# torch first and pinned: the CPU build cached on these machines, never a CUDA download
python -m pip install -q torch==2.13.0
python -m pip install -q -c requirements.lock -e '.[dev,ray]'
python -m pip check >/dev/null || { python -m pip check; exit 1; }  # quiet unless broken
rm -f .venv/.installed-*
touch "$stamp"
