"""Two runs starting at once on a fresh DAGSTER_HOME: the instance's databases are created
once, under a lock, and the instance works afterwards."""

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

OPEN = """
import os, sys, time
from pathlib import Path
barrier = Path(sys.argv[1])
sys.path.insert(0, {root!r})
from assets.run import open_instance
Path(f"{{barrier}}.{{os.getpid()}}.ready").touch()
while not barrier.exists():
    time.sleep(0.001)
with open_instance() as instance:
    print(len(instance.get_runs()))
"""


def _race(home: Path, barrier: Path, processes: int = 6) -> list[subprocess.CompletedProcess]:
    env = {"DAGSTER_HOME": str(home), "PATH": "/usr/bin:/bin"}
    script = OPEN.format(root=str(ROOT))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(barrier)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    deadline = time.monotonic() + 120
    while len(list(barrier.parent.glob(f"{barrier.name}.*.ready"))) < processes:
        assert time.monotonic() < deadline, "racers never got ready"
        time.sleep(0.01)
    barrier.touch()
    return [subprocess.CompletedProcess(p.args, p.wait(), *p.communicate()) for p in procs]


def test_racing_first_starts_create_one_schema(tmp_path):
    """Six at once: without the lock this left two alembic heads in about one try in three."""
    home = tmp_path / "dagster_home"
    results = _race(home, tmp_path / "go")
    for result in results:
        assert result.returncode == 0, result.stderr[-2000:]
    with sqlite3.connect(home / "history" / "runs.db") as db:
        heads = db.execute("select version_num from alembic_version").fetchall()
    assert len(heads) == 1, heads
    again = _race(home, tmp_path / "again", processes=1)[0]
    assert again.returncode == 0 and again.stdout.strip() == "0", again.stderr[-2000:]
