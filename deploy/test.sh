#!/usr/bin/env bash
# End-to-end test of the production deployment on one Docker host:
#   engine -> base image -> wheelhouse -> images -> stack up (PostgreSQL, S3, gRPC code server,
#   webserver, daemon) -> seed S3 (corpus, score table v1) -> the daemon's sensor ticks and
#   records v1 -> replace the score table in S3 -> the sensor launches the refresh -> wait for
#   it -> `curation datasets verify` on each version it published -> the run and every step
#   ran in containers of their own, steps in parallel -> teardown.
# Each phase prints its duration; the stack is torn down on success, failure and Ctrl-C
# (KEEP_STACK=1 keeps it for a look). Exit 3: no Docker engine can run on this machine.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
export CURATION_STACK="${CURATION_STACK:-curation-e2e}"
export CURATION_IMAGE="${CURATION_IMAGE:-curation:e2e}"
export CURATION_PG_IMAGE="${CURATION_PG_IMAGE:-curation-postgres:e2e}"
BASE_IMAGE="${CURATION_BASE_IMAGE:-curation-base:bookworm}"
RUN_TIMEOUT="${DEPLOY_RUN_TIMEOUT:-1200}"
WORK="$ROOT/var/deploy/e2e"
mkdir -p "$WORK"

PHASES=()
phase_start=0
phase_name=""
begin() { phase_name="$1"; phase_start=$(date +%s); echo "=== deploy/test: $1" >&2; }
end() {
  local took=$(($(date +%s) - phase_start))
  PHASES+=("$(printf '%-34s %5d s' "$phase_name" "$took")")
  phase_name=""
}
report() {
  echo "--- deploy/test: phase timings" >&2
  local line
  for line in "${PHASES[@]}"; do echo "  $line" >&2; done
  if [ -n "$phase_name" ]; then
    echo "  $(printf '%-34s %5d s' "$phase_name (unfinished)" $(($(date +%s) - phase_start)))" >&2
  fi
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 3 ] && docker info >/dev/null 2>&1; then
    echo "--- deploy/test: FAILED (exit $rc); last service logs:" >&2
    bash deploy/stack.sh compose logs --no-color --tail 40 2>&1 | tail -160 >&2 || true
  fi
  if [ "$rc" -ne 3 ] && [ "${KEEP_STACK:-0}" != 1 ] && docker info >/dev/null 2>&1; then
    local t0; t0=$(date +%s)
    bash deploy/stack.sh down >/dev/null 2>&1 || true
    PHASES+=("$(printf '%-34s %5d s' "teardown" $(($(date +%s) - t0)))")
  fi
  report
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

begin "docker engine"
bash deploy/docker_engine.sh || exit $?
end

begin "base image ($BASE_IMAGE)"
bash deploy/base_image.sh "$BASE_IMAGE"
end

begin "wheelhouse"
PYTHON="${PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}" \
  bash deploy/wheelhouse.sh
end

begin "images"
export DOCKER_BUILDKIT=0  # the classic builder: Debian's engine has no buildx plugin
docker build -q --network host -f deploy/Dockerfile --build-arg BASE_IMAGE="$BASE_IMAGE" \
  -t "$CURATION_IMAGE" . 2> >(grep -v -e DEPRECATED -e BuildKit -e 'environment-variable' >&2)
docker build -q --network host -f deploy/postgres.Dockerfile --build-arg BASE_IMAGE="$BASE_IMAGE" \
  -t "$CURATION_PG_IMAGE" deploy 2> >(grep -v -e DEPRECATED -e BuildKit -e 'environment-variable' >&2)
image_size=$(docker image inspect -f '{{.Size}}' "$CURATION_IMAGE")
echo "deploy/test: $CURATION_IMAGE is $((image_size / 1024 / 1024)) MiB" \
  "($CURATION_PG_IMAGE $(($(docker image inspect -f '{{.Size}}' "$CURATION_PG_IMAGE") / 1024 / 1024)) MiB)"
docker run --rm "$CURATION_IMAGE" sh -c \
  'test "$(id -u)" != 0 && python -c "import torch, dagster_docker; assert torch.version.cuda is None" && curation --help >/dev/null' \
  || { echo "deploy/test: image runs as root, lacks the CLI, or has a CUDA torch" >&2; exit 1; }
end

begin "stack up"
bash deploy/stack.sh down >/dev/null 2>&1 || true  # leftovers of an interrupted run
export CURATION_WEB_PORT="$(free_port)" CURATION_GRPC_PORT="$(free_port)"
export CURATION_S3_PORT="$(free_port)" DAGSTER_PG_PORT="$(free_port)"
export CURATION_BUCKET=curation-e2e
# Small and fast: two recipes, a tiny probe, three shards each (deploy/compose/curation.yaml).
export POSTGRES_FSYNC=off
bash deploy/stack.sh up postgres s3
bash deploy/stack.sh wait postgres s3
eval "$(bash deploy/stack.sh env)"
end

e2e() {
  docker run --rm --network host --label "curation.stack=$CURATION_STACK" \
    -e AWS_ENDPOINT_URL="http://127.0.0.1:$CURATION_S3_PORT" -e AWS_REGION=us-east-1 \
    -e AWS_ACCESS_KEY_ID=moto -e AWS_SECRET_ACCESS_KEY=moto -e CURATION_WEB_URL \
    -e CURATION_CORPUS="s3://$CURATION_BUCKET/raw/corpus.parquet" \
    -e CURATION_SCORES="s3://$CURATION_BUCKET/scores/quality.parquet" \
    -v "$ROOT/deploy:/deploy:ro" "$CURATION_IMAGE" "$@"
}

begin "seed S3 (corpus, scores v1)"
e2e python /deploy/e2e.py seed --docs 120
end

begin "code server, webserver, daemon up"
bash deploy/stack.sh up
bash deploy/stack.sh wait codeserver webserver  # compose returns once they started
end

begin "sensor's first tick (records scores v1)"
e2e python /deploy/e2e.py wait-tick --timeout 600
end

begin "refresh: new score table in S3, the sensor's run"
e2e python /deploy/e2e.py change-scores --version 2
run_ids() { sed -n 's/^e2e: run \([0-9a-f-]*\) .*/\1/p' "$1"; }
e2e python /deploy/e2e.py wait-run --timeout "$RUN_TIMEOUT" | tee "$WORK/refresh.txt"
end

begin "verify published versions in S3"
published="s3://$CURATION_BUCKET/curation/published"
datasets=$(e2e curation datasets list --root "$published")
expected="random saw"  # the recipes of deploy/compose/curation.yaml
if [ "$(echo $datasets)" != "$expected" ]; then
  echo "deploy/test: published datasets are '$(echo $datasets)', expected '$expected'" >&2
  exit 1
fi
for dataset in $datasets; do
  e2e curation datasets list --root "$published" "$dataset"
  e2e curation datasets verify --root "$published" "$dataset" latest
done
end

begin "steps ran in separate containers"
ids=$(docker ps -aq --filter "label=curation.stack=$CURATION_STACK")
# shellcheck disable=SC2086
docker inspect $ids >"$WORK/containers.json"
# shellcheck disable=SC2046
python3 deploy/e2e.py containers "$WORK/containers.json" $(run_ids "$WORK/refresh.txt")
end

echo "deploy/test: PASSED ($CURATION_IMAGE $((image_size / 1024 / 1024)) MiB)" >&2
