"""a second run on the same root stops at once, naming
the first; a SIGKILLed holder never blocks later runs. Real processes throughout."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from curation.storage.runlock import RunLocked, run_lock
from tests.reliability.helpers import job_env

HOLD = """
import sys, time, pathlib
from curation.storage.runlock import run_lock
with run_lock(sys.argv[1], owner=sys.argv[2]):
    pathlib.Path(sys.argv[3]).write_text("held")
    while not pathlib.Path(sys.argv[4]).exists():
        time.sleep(0.05)
"""


def _start(root, owner, tmp_path):
    held, release = tmp_path / f"{owner}.held", tmp_path / f"{owner}.release"
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(root), owner, str(held), str(release)], env=job_env()
    )
    deadline = time.time() + 60
    while not held.exists():
        assert proc.poll() is None and time.time() < deadline, "holder did not start"
        time.sleep(0.05)
    return proc, release


def test_a_second_run_stops_at_once_naming_the_first(tmp_path):
    root = tmp_path / "root"
    first, release = _start(root, "run-A", tmp_path)
    try:
        started = time.time()
        second = subprocess.run(
            [sys.executable, "-c", HOLD, str(root), "run-B", str(tmp_path / "b"), "x"],
            env=job_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode != 0 and "RunLocked" in second.stderr
        assert "'run-A'" in second.stderr and f"pid {first.pid}" in second.stderr
        assert time.time() - started < 30  # stopped, did not wait
    finally:
        release.write_text("go")
        assert first.wait(timeout=60) == 0
    with run_lock(str(root), owner="after"):  # the first released it
        pass


def test_a_killed_holder_never_blocks_later_runs(tmp_path):
    root = tmp_path / "root"
    proc, _ = _start(root, "doomed", tmp_path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    with run_lock(str(root), owner="next") as me:
        lock = json.loads((root / ".locks" / "pipeline.lock").read_text())
        assert lock == me
    assert not (root / ".locks" / "pipeline.lock").exists()


def test_an_empty_lock_file_left_by_a_crash_is_taken_over(tmp_path):
    (tmp_path / ".locks").mkdir()
    (tmp_path / ".locks" / "pipeline.lock").write_text("")
    with run_lock(str(tmp_path), owner="next"):
        with pytest.raises(RunLocked, match="'next'"):
            with run_lock(str(tmp_path), owner="other"):
                pass
