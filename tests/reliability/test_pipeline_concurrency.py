"""Through ``curation run`` with real processes: a second run on the same
instance and storage root stops at once naming the first; the first finishes and publishes
versions that verify; the second, rerun afterwards, finishes too."""

import os
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest

from curation import publish
from tests.factories import make_corpus, make_project, write_project_file, write_scores
from tests.reliability.helpers import REPO, job_env


@pytest.mark.slow  # two full `curation run` processes: ~3 min on a busy 2-core machine
def test_a_second_curation_run_on_one_root_stops_at_once_naming_the_first(tmp_path):
    corpus = make_corpus(tmp_path / "corpus", n=40)
    ids = pq.read_table(corpus, columns=["id"]).column("id").to_pylist()
    scores = write_scores(tmp_path / "scores.parquet", ids, [float(i % 7) for i in range(40)])
    project = make_project(tmp_path / "root", corpus, scores)
    config = write_project_file(tmp_path / "curation.yaml", project)
    env = job_env(CURATION_CONFIG=config, DAGSTER_HOME=str(tmp_path / "home"))
    os.makedirs(env["DAGSTER_HOME"])
    argv = [sys.executable, "-m", "curation.cli", "run", "--quiet"]
    first = subprocess.Popen(
        argv, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    lock_dir = tmp_path / "home" / ".locks"
    deadline = time.time() + 120
    while not (lock_dir.exists() and any(lock_dir.iterdir())):
        assert first.poll() is None and time.time() < deadline, first.communicate()
        time.sleep(0.1)
    started = time.time()
    second = subprocess.run(argv, env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert second.returncode == 2, second.stderr
    assert (
        f"curation run (pid {first.pid})" in second.stderr and "another run holds" in second.stderr
    )
    assert time.time() - started < 60  # it stopped; it did not run the pipeline
    out, err = first.communicate(timeout=900)
    assert first.returncode == 0, err[-3000:]
    again = subprocess.run(argv, env=env, cwd=REPO, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr[-3000:]
    root = project.path("published")
    for recipe in project.recipe_names:
        assert publish.verify_version(root, project.dataset_name(recipe)) == []
