"""A 3-node Ray cluster (head without CPUs, two 1-CPU workers) in a loopback-only network
namespace, storage on a local S3 server: a worker node killed mid-reorder changes nothing;
the head killed fails the run and publishes nothing. Slow (~75 s each): ``-m slow``."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.ray, pytest.mark.slow]

JOB = Path(__file__).with_name("cluster_job.py")
REPO = Path(__file__).resolve().parents[2]


def _namespaces_allowed() -> bool:
    try:
        done = subprocess.run(["unshare", "-n", "true"], capture_output=True, timeout=10)
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _leftovers(marker: str) -> list[str]:
    """Processes whose command line names this test's Ray temp directory."""
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if marker in cmd and "pytest" not in cmd:
                found.append(cmd[:120])
    return found


def _run(tmp_path, mode: str) -> dict:
    if not _namespaces_allowed():
        pytest.skip("network namespaces (unshare -n) are not allowed here")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        ["unshare", "-n", sys.executable, str(JOB), str(tmp_path), mode],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert not _leftovers(result["ray_temp"]), "Ray processes left running"
    assert result["local"], result["local_err"]
    return result


def test_a_worker_node_killed_mid_reorder_publishes_the_same_versions(tmp_path):
    result = _run(tmp_path, "kill-worker")
    assert result["killed"] == 1  # the raylet of one worker node
    assert 1 <= result["shards_at_kill"] < 30  # killed while the shards were being written
    assert result["ray_rc"] == 0, result["ray_err"]
    assert result["ray"] == result["local"]
    assert len(result["published"]) == 2


def test_the_head_killed_fails_the_run_and_publishes_nothing(tmp_path):
    result = _run(tmp_path, "kill-head")
    assert result["killed"] == 2  # the head's GCS and raylet
    assert result["ray_rc"] != 0
    assert result["published"] == [] and result["committed"] == []
    # Ray ends a driver whose node's object store or GCS is gone, and its log says which;
    # a head that stops answering while the driver lives fails it with RayEngineError
    said = result["driver_log"] + result["ray_err"]
    assert any(w in said for w in ("plasma store", "GCS", "stopped answering")), result
