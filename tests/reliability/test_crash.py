"""SIGKILL at random points while shards are written and while a version is published.

Each kill leaves whatever debris it leaves (no cleanup between iterations, as after a real
crash). After every kill nothing partial may be visible and every visible version must
verify; at the end a plain rerun must complete with the version id of an undisturbed run.
"""

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curation import publish
from tests.factories import write_corpus
from tests.factories import write_random_scores as write_scores
from tests.reliability.helpers import (
    cli_verify,
    job_command,
    job_env,
    run_job,
    visible_state_problems,
)

KILLS_PER_PHASE = 8  # 16 kills in all: bounded so the test stays around half a minute


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("crash-inputs")
    corpus = write_corpus(base / "corpus", 12_000, files=3, doc_bytes=1200)
    ids = pq.read_table(corpus, columns=["id"]).column(0).to_pylist()
    return {"corpus": corpus, "scores": write_scores(base / "scores.parquet", ids)}


def timed_run(argv: list[str], env: dict) -> dict[str, float]:
    """Run to completion, returning when each phase began (seconds after start)."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True)
    marks = {}
    for line in proc.stdout:
        if line.startswith("phase "):
            marks[line.split()[1]] = time.perf_counter() - started
    assert proc.wait() == 0
    return marks


def run_and_kill(argv: list[str], env: dict, phase: str, delay: float) -> int:
    """Start a job, wait for it to enter ``phase``, SIGKILL it ``delay`` s later."""
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True)
    for line in proc.stdout:
        if line.strip() == f"phase {phase}":
            break
    time.sleep(delay)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.stdout.close()
    return proc.wait()


def test_sigkill_during_shards_and_publish_leaves_nothing_partial(inputs, tmp_path):
    env = job_env(TMPDIR=str(tmp_path))  # spill directories of killed runs stay in tmp_path
    reference = job_command(
        inputs["corpus"],
        inputs["scores"],
        str(tmp_path / "ref-work"),
        str(tmp_path / "ref-root"),
        "crashy",
    )
    marks = timed_run(reference, env)
    expected = publish.resolve_version(str(tmp_path / "ref-root"), "crashy")
    windows = {
        "shards": marks["publish"] - marks["shards"],
        "publish": marks["done"] - marks["publish"],
    }

    root, work = str(tmp_path / "root"), str(tmp_path / "work")
    argv = job_command(inputs["corpus"], inputs["scores"], work, root, "crashy")
    rng = random.Random(20240611)
    killed, seen_versions = {"shards": 0, "publish": 0}, set()
    for phase in ["shards", "publish"] * KILLS_PER_PHASE:
        code = run_and_kill(argv, env, phase, rng.uniform(0, 0.9 * windows[phase]))
        killed[phase] += code == -signal.SIGKILL
        assert code in (0, -signal.SIGKILL), f"job exited {code}"
        assert visible_state_problems(root) == []
        for v in publish.list_versions(root, "crashy") if Path(root, "crashy").exists() else []:
            assert v.version == expected, "a killed run made a different version visible"
            seen_versions.add(v.version)
    assert killed["shards"] >= KILLS_PER_PHASE // 2 and killed["publish"] >= KILLS_PER_PHASE // 2

    assert run_job(argv, env) == expected
    assert publish.resolve_version(root, "crashy") == expected
    assert [v.version for v in publish.list_versions(root, "crashy")] == [expected]
    result = cli_verify(root, "crashy")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"crashy/{expected}: ok" in result.stdout
    assert visible_state_problems(root) == []


def test_rerun_after_crash_between_commit_and_pointer_moves_latest(inputs, tmp_path):
    """The state a kill leaves after the manifest commit but before ``latest`` moved:
    the rerun (a no-op publish of the same version) must still move ``latest``."""
    root = str(tmp_path / "root")
    env = job_env(TMPDIR=str(tmp_path))
    old = run_job(
        job_command(
            inputs["corpus"], inputs["scores"], str(tmp_path / "w0"), root, "crashy", seed=1
        ),
        env,
    )
    argv = job_command(
        inputs["corpus"], inputs["scores"], str(tmp_path / "w1"), root, "crashy", seed=2
    )
    new = run_job(argv, env)
    assert old != new
    publish.set_latest(root, "crashy", old)  # as if killed right after committing `new`
    assert run_job(argv, env) == new
    assert publish.resolve_version(root, "crashy") == new
