"""Errors name what is wrong: a number no float holds in a jsonl score table, a failed
blocking check (recipe and reason, not "1 check failed"), a full disk under DAGSTER_HOME."""

import os
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curation.cli.main import main
from curation.scores import ScoreError, import_scores
from tests.factories import make_corpus, make_project, write_project_file, write_scores


def test_an_out_of_range_number_in_jsonl_names_its_line(tmp_path):
    path = tmp_path / "scores.jsonl"
    path.write_text('{"id": "a", "quality": 1.5}\n{"id": "b", "quality": 1e309}\n')
    with pytest.raises(ScoreError, match=r"line 2 .*1e309 does not fit a 64-bit float"):
        import_scores(str(path), score_columns=["quality"])


def _project_file(tmp_path: Path, covered: int | None = None) -> str:
    corpus = make_corpus(tmp_path / "corpus", n=30)
    ids = pq.read_table(corpus, columns=["id"]).column("id").to_pylist()[:covered]
    scores = write_scores(tmp_path / "scores.parquet", ids, [float(i) for i in range(len(ids))])
    project = make_project(
        tmp_path / "root", corpus, scores, recipes=[{"name": "a", "method": "str"}]
    )
    return write_project_file(tmp_path / "curation.yaml", project)


def test_a_failed_blocking_check_is_named_with_its_reason(tmp_path, monkeypatch, capsys):
    config = _project_file(tmp_path, covered=27)  # three documents without a score
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    assert main(["run", "--quiet", "--config", config]) == 1
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "check sample_scores:score_coverage failed" in x)
    assert "3" in line and "score" in line, line


@pytest.fixture
def full_disk(tmp_path):
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)])
    if done.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    yield mount
    subprocess.run(["umount", str(mount)])


def test_a_full_disk_under_dagster_home_is_one_line_naming_it(tmp_path, full_disk, capsys):
    config = _project_file(tmp_path)
    os.environ["DAGSTER_HOME"] = str(full_disk / "home")
    try:
        assert main(["run", "--config", config]) == 2
    finally:
        del os.environ["DAGSTER_HOME"]
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(full_disk / "home") in err and "MB free" in err
