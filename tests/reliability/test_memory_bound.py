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

import pytest

ROOT = Path(__file__).resolve().parents[2]
# above the warmed-up process, 4x10^5 documents with 64-byte ids: the streamed check grows
# ~50 MB (its threads' fixed buffers, 9 bytes a row); holding the ordering's ids, id hashes
# and pre-buffered files grew it by ~150 MB, and the unchunked hasher by ~390 MB more
BOUND_MB = 80

JOB = [sys.executable, str(ROOT / "tests/reliability/run_job.py")]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def _peak_mb(proc: subprocess.Popen, start: int = 0) -> int:
    """Peak resident set of a running process's whole tree until it exits, sampled from
    outside every 5 ms."""
    from curation.machine import tree_resident_bytes

    peak = start
    while proc.poll() is None:
        try:
            peak = max(peak, tree_resident_bytes(proc.pid) >> 20)
        except (FileNotFoundError, ProcessLookupError):
            break
        time.sleep(0.005)
    return peak


def test_the_shard_check_stays_within_a_bound_on_long_ids(tmp_path):
    env = ENV
    cmd = [sys.executable, str(ROOT / "tests/reliability/memory_job.py"), str(tmp_path)]
    proc = subprocess.Popen(
        [*cmd, "400000", "64"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "measure", proc.stderr.read()[-2000:]
    from curation.machine import tree_resident_bytes

    baseline = tree_resident_bytes(proc.pid) >> 20
    peak = _peak_mb(proc, baseline)
    out, err = proc.communicate()
    assert proc.returncode == 0 and "done" in out, err[-2000:]
    print(f"grew {peak - baseline} MB over {baseline} MB")
    assert peak - baseline < BOUND_MB, f"grew {peak - baseline} MB over {baseline} MB"


def _tree_peak_mb(cmd: list[str], env: dict, cwd: Path | None = None) -> int:
    """Peak resident set of a command's whole process tree, sampled from outside."""
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak = _peak_mb(proc)
    out, err = proc.communicate()
    assert proc.returncode == 0, (out + err).decode()[-3000:]
    return peak


def _make(base: Path, n: int, id_bytes: int = 8, words: int = 6) -> None:
    """A corpus of ``n`` documents and its score table under ``base`` (run_job.py make)."""
    subprocess.run(
        [*JOB, "make", str(base), str(n), str(id_bytes), str(words)], env=ENV, check=True
    )


def _project(base: Path, memory_mb: int, root: Path, recipes: list | None = None) -> dict:
    """The project file's values for the corpus :func:`_make` wrote."""
    return {
        "corpus": {"uri": str(base / "corpus")},
        "scores": {"uri": str(base / "scores"), "columns": ["quality"]},
        "storage": {"root": str(root)},
        "run": {"memory_limit_mb": memory_mb},
        "recipes": recipes or [{"name": "r", "method": "str"}],
    }


@pytest.mark.parametrize("id_bytes", [8, 48])
def test_a_whole_run_keeps_to_the_memory_setting_the_preflight_asks_for(tmp_path, id_bytes):
    """Nine recipes published over 3x10^5 documents, under the smallest setting the
    pre-flight accepts for that corpus: the run's whole process tree grows by less than
    the setting over the same run on 2,000 documents (imports, GX, fixed buffers). Long
    ids too: joining the scores on the ids themselves held them several times over."""
    from curation.stages.memory import footer_size, memory_needed_mb

    peaks, settings = {}, {}
    for n in (2_000, 300_000):
        base = tmp_path / str(n)
        _make(base, n, id_bytes)
        settings[n] = memory_needed_mb(*footer_size(str(base / "corpus"), "id"))
        peaks[n] = _tree_peak_mb([*JOB, "run", str(base), str(settings[n])], ENV)
    grew = peaks[300_000] - peaks[2_000]
    print(f"setting {settings[300_000]} MiB, grew {grew} MiB over {peaks[2_000]} MiB")
    assert grew <= settings[300_000], f"grew {grew} MiB, setting {settings[300_000]} MiB"


def test_a_corpus_the_setting_cannot_hold_is_refused_before_any_work(tmp_path):
    from curation.project import parse_project
    from curation.stages.corpus import build_corpus
    from curation.stages.preflight import PreflightError, project_problems

    base = tmp_path / "big"
    _make(base, 400_000)
    project = parse_project(_project(base, 160, tmp_path / "root"))
    problems = project_problems(project, "curation.yaml")
    assert any("run.memory_limit_mb: 160 MiB cannot hold 400,000 documents" in p for p in problems)
    try:
        build_corpus(project)
    except PreflightError as exc:
        assert "set run.memory_limit_mb (or CURATION_MEMORY_LIMIT_MB) to at least" in str(exc)
    else:
        raise AssertionError("a corpus the setting cannot hold was accepted")
    assert not (tmp_path / "root").exists()  # refused before any work file


@pytest.mark.slow
def test_curation_run_on_a_million_documents_keeps_to_the_shipped_setting(tmp_path):
    """`curation run` (the orchestrated graph, nine recipes) on 10^6 documents of ~250
    bytes under the shipped 512 MiB: its whole process tree grows by less than the setting
    over the same run on 2,000 documents (measured: 261 MiB; 312 before the check was
    streamed, whose cost showed at 11 recipes on real text: bench/results/memory.txt)."""
    import yaml

    from tests.reliability.run_job import RECIPES

    peaks = {}
    for n in (2_000, 1_000_000):
        base = tmp_path / str(n)
        _make(base, n, words=40)  # ~250-byte texts
        project = _project(base, 512, base / "root", RECIPES)
        (base / "curation.yaml").write_text(yaml.safe_dump(project))
        run = [sys.executable, "-m", "curation.cli", "run", "--config", str(base / "curation.yaml")]
        home = {**ENV, "DAGSTER_HOME": str(base / "dagster")}
        (base / "dagster").mkdir()
        peaks[n] = _tree_peak_mb([*run, "--quiet"], home, cwd=ROOT)
    grew = peaks[1_000_000] - peaks[2_000]
    print(f"grew {grew} MiB over {peaks[2_000]} MiB")
    assert grew <= 512, f"grew {grew} MiB over the run on 2,000 documents; setting 512 MiB"


def test_a_setting_the_machine_cannot_give_is_refused(tmp_path, monkeypatch):
    """A setting above what the machine (or its cgroup) lets the run hold would end in the
    kernel killing the run, not in a refusal: the pre-flight says so first."""
    from curation.project import parse_project
    from curation.stages import memory
    from curation.stages.preflight import project_problems

    base = tmp_path / "small"
    _make(base, 2_000)
    monkeypatch.setattr(memory, "memory_bytes", lambda: 1 << 30)
    project = parse_project(_project(base, 2048, tmp_path / "root"))
    problems = project_problems(project, "curation.yaml")
    assert any(
        "2,048 MiB is more than this machine lets the run hold (1,024 MiB)" in p for p in problems
    )
