"""Same inputs, parameters and seed give byte-identical shards and manifests.

Two separate interpreters stand in for two machines: different working directories,
storage roots, time zones, hash seeds, locales and temp dirs. The inputs are copies in
different places, so nothing may depend on where the data lives either.
"""

import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curation import publish
from tests.factories import write_corpus
from tests.factories import write_random_scores as write_scores
from tests.reliability.helpers import job_command, job_env, run_job

MACHINES = [
    {"TZ": "UTC", "PYTHONHASHSEED": "0", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"},
    {"TZ": "Asia/Kolkata", "PYTHONHASHSEED": "4242", "LANG": "en_US.UTF-8", "LC_ALL": "C"},
]


def published_bytes(root: str, dataset: str) -> dict[str, bytes]:
    """Every file of the latest version, by name (the whole version directory)."""
    vdir = Path(publish.open_version(root, dataset).uri)
    return {p.name: p.read_bytes() for p in sorted(vdir.iterdir())}


@pytest.mark.parametrize("method", ["str", "random"])
def test_two_machines_publish_identical_bytes(tmp_path, method):
    source = tmp_path / "source"
    corpus = write_corpus(source / "corpus", 3000, files=2)
    ids = pq.read_table(corpus, columns=["id"]).column(0).to_pylist()
    write_scores(source / "scores.parquet", ids)
    results = []
    for i, machine in enumerate(MACHINES):
        home = tmp_path / f"machine-{i}"
        shutil.copytree(source, home / "data")  # the same inputs, somewhere else
        (home / "cwd").mkdir()
        (home / "tmp").mkdir()
        root = str(home / "root")
        argv = job_command(
            str(home / "data/corpus"),
            str(home / "data/scores.parquet"),
            str(home / "work"),
            root,
            "same",
            method=method,
            seed=7,
            rows_per_shard=700,
        )
        version = run_job(argv, job_env(TMPDIR=str(home / "tmp"), **machine), cwd=home / "cwd")
        results.append((version, published_bytes(root, "same")))
    (v0, files0), (v1, files1) = results
    assert v0 == v1
    assert sorted(files0) == sorted(files1)
    assert "manifest.json" in files0 and len(files0) == 1 + 5  # 3000 rows / 700 per shard
    for name in files0:
        assert files0[name] == files1[name], f"{name} differs between machines"


def test_manifest_holds_no_clock_and_no_paths(tmp_path):
    """What would make manifests differ between machines is kept beside them instead."""
    source = tmp_path / "in"
    corpus = write_corpus(source / "corpus.parquet", 50)
    ids = pq.read_table(corpus, columns=["id"]).column(0).to_pylist()
    scores = write_scores(source / "scores.parquet", ids)
    root = str(tmp_path / "root")
    from tests.reliability.helpers import run_library_pipeline

    version = run_library_pipeline(corpus, scores, str(tmp_path / "work"), root, "ds")
    manifest = (Path(root) / "ds" / version / "manifest.json").read_text()
    assert str(tmp_path) not in manifest and "published_at" not in manifest
    pv = publish.list_versions(root, "ds")[0]
    assert publish.published_at(pv.uri, pv.manifest)[:2] == "20"
