"""The shard-integrity stage keeps to a bound whatever the ids: its resident memory, sampled
from outside the process, grows by far less than the memory setting over its warm-up.

Hashing a whole shard's ids at once held 32 bytes of work tables per byte of id (~470 MB
per 10^6 ids; ~1 GB per shard at 10^7 documents); they are now hashed a chunk at a time.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BOUND_MB = 150  # above the warmed-up process; the unchunked hasher alone took ~390 MB here


def _rss_mb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) // 1024
    return 0


def test_the_shard_check_stays_within_a_bound_on_long_ids(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, str(ROOT / "tests/reliability/memory_job.py"), str(tmp_path)]
    proc = subprocess.Popen(
        [*cmd, "200000", "64"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "measure", proc.stderr.read()[-2000:]
    baseline = peak = _rss_mb(proc.pid)
    while proc.poll() is None:
        try:
            peak = max(peak, _rss_mb(proc.pid))
        except (FileNotFoundError, ProcessLookupError):
            break
        time.sleep(0.005)
    out, err = proc.communicate()
    assert proc.returncode == 0 and "done" in out, err[-2000:]
    assert peak - baseline < BOUND_MB, f"grew {peak - baseline} MB over {baseline} MB"
