#!/usr/bin/env bash
# Build the wheelhouse the image installs from (offline, so the build needs no index and no CA
# bundle inside the container): every runtime dependency of the project, plus moto's server for
# the local S3 stand-in and the build backend, resolved against requirements.lock.
#
#   deploy/wheelhouse.sh [DIR]     # DIR: default var/deploy/wheelhouse; skipped when up to date
#
# PIP_EXTRA_INDEX_URL / PIP_FIND_LINKS choose where a CPU torch comes from (pip's own settings;
# on a machine without a local CPU wheel, point PIP_EXTRA_INDEX_URL at PyTorch's CPU index).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIR="${1:-$ROOT/var/deploy/wheelhouse}"
PY="${PYTHON:-python3}"
[ -x "$ROOT/.venv/bin/python" ] && PY="$ROOT/.venv/bin/python"
log() { echo "wheelhouse: $*" >&2; }

mkdir -p "$DIR"
# The image's requirement list: the project's dependencies (from pyproject.toml) and extras.
"$PY" - "$ROOT/pyproject.toml" >"$DIR/requirements.in.new" <<'EOF'
import sys
import tomllib

with open(sys.argv[1], "rb") as f:
    project = tomllib.load(f)["project"]
dev = {r.split("==")[0].split("[")[0]: r for r in project["optional-dependencies"]["dev"]}
for req in project["dependencies"]:
    print(req)
print(dev["moto"])  # moto[server]: the S3-compatible server of the compose stack
for req in project["optional-dependencies"]["ray"]:  # the Ray engine (deploy/kuberay/)
    print(req)
print("setuptools")  # build backend for installing the project itself without an index
EOF
stamp=$(cat "$DIR/requirements.in.new" "$ROOT/requirements.lock" | sha256sum | cut -c1-16)
if [ -f "$DIR/.stamp-$stamp" ]; then
  rm "$DIR/requirements.in.new"
  log "$DIR up to date ($stamp)"
  exit 0
fi
mv "$DIR/requirements.in.new" "$DIR/requirements.in"
rm -f "$DIR"/*.whl "$DIR"/.stamp-*
log "resolving $(wc -l <"$DIR/requirements.in") requirements against requirements.lock"
# torch: the CPU build (2.13.0+cpu); pip's configured find-links supplies it where it is cached.
"$PY" -m pip wheel -q -w "$DIR" -c "$ROOT/requirements.lock" -r "$DIR/requirements.in" >&2
if ls "$DIR" | grep -qiE '^nvidia|^triton'; then
  log "a CUDA dependency got into the wheelhouse; torch must be the CPU build"
  exit 1
fi
torch=$(ls "$DIR" | grep '^torch-' || true)
case "$torch" in
  *+cpu*) ;;
  *) log "torch wheel is '$torch', not a CPU build"; exit 1 ;;
esac
# The exact set the image installs: name==version of every wheel (so the image runs pip check).
ls "$DIR"/*.whl | sed -E 's#.*/##; s#^([^-]+)-([^-]+)-.*#\1==\2#' | sort >"$DIR/requirements.txt"
touch "$DIR/.stamp-$stamp"
log "$(ls "$DIR"/*.whl | wc -l) wheels, $(du -sh "$DIR" | cut -f1) in $DIR ($torch)"
