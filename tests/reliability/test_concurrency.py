"""Two runs publishing the same dataset at the same moment, as separate processes."""

import subprocess
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curation import publish
from tests.factories import write_corpus
from tests.factories import write_random_scores as write_scores
from tests.reliability.helpers import job_command, job_env, visible_state_problems


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("race-inputs")
    corpus = write_corpus(base / "corpus", 6000, files=2, doc_bytes=600)
    ids = pq.read_table(corpus, columns=["id"]).column(0).to_pylist()
    return {"corpus": corpus, "scores": write_scores(base / "scores.parquet", ids)}


def race(argvs: list[list[str]], env: dict, barrier: Path) -> list[str]:
    """Start all jobs, let each prepare its shards, then release them into publishing at
    the same moment (a barrier file), and collect what each printed last."""
    argvs = [[*a, "--publish-barrier", str(barrier)] for a in argvs]
    procs = [
        subprocess.Popen(a, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for a in argvs
    ]
    deadline = time.monotonic() + 60
    while len(list(barrier.parent.glob(f"{barrier.name}.*.ready"))) < len(procs):
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs)
        time.sleep(0.01)
    barrier.touch()
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (_out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, f"a racing run failed: {err[-2000:]}"
    return [out.strip().splitlines()[-1] for out, _ in outs]


def test_two_runs_same_inputs_one_version_valid_latest(inputs, tmp_path):
    root = str(tmp_path / "root")
    env = job_env(TMPDIR=str(tmp_path))
    argvs = [
        job_command(inputs["corpus"], inputs["scores"], str(tmp_path / f"work-{i}"), root, "shared")
        for i in range(2)
    ]
    outputs = race(argvs, env, tmp_path / "go")
    assert outputs[0] == outputs[1]
    versions = publish.list_versions(root, "shared")
    assert len(versions) == 1
    assert publish.resolve_version(root, "shared") == versions[0].version
    assert visible_state_problems(root) == []


def test_two_runs_different_seeds_two_versions_latest_is_one_of_them(inputs, tmp_path):
    root = str(tmp_path / "root")
    env = job_env(TMPDIR=str(tmp_path))
    argvs = [
        job_command(
            inputs["corpus"],
            inputs["scores"],
            str(tmp_path / f"work-{i}"),
            root,
            "shared",
            method="random",
            seed=i,
        )
        for i in range(2)
    ]
    race(argvs, env, tmp_path / "go")
    versions = {v.version for v in publish.list_versions(root, "shared")}
    assert len(versions) == 2
    assert publish.resolve_version(root, "shared") in versions
    assert visible_state_problems(root) == []
