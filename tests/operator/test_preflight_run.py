"""Pre-flight: a mistake in the project or its sources is refused before a run is launched.

At the console: one line naming the file, the key and the problem, exit 2, and no run in the
Dagster instance. In the sensor and the nightly schedule: a skip reason naming the same.
"""

import copy
import os

import pyarrow.parquet as pq
import pytest
import yaml
from dagster import DagsterInstance, SkipReason, build_schedule_context, build_sensor_context

from assets.location import build_definitions
from assets.run import open_instance
from curation.cli.main import main
from tests.factories import TINY_PROBE, make_corpus, make_project, write_scores


@pytest.fixture
def base(tmp_path):
    corpus = make_corpus(tmp_path / "corpus", n=30)
    ids = pq.read_table(corpus, columns=["id"]).column("id").to_pylist()
    scores = write_scores(tmp_path / "scores.parquet", ids, [float(i) for i in range(30)])
    raw = {
        "corpus": {"uri": corpus},
        "scores": {"uri": scores, "columns": ["quality"]},
        "storage": {"root": str(tmp_path / "root")},
        "probe": copy.deepcopy(TINY_PROBE),
        "recipes": [
            {"name": "random", "method": "random", "probe": True},
            {"name": "fold", "method": "folding", "params": {"folding_layer": 3}},
        ],
    }
    return {"tmp": tmp_path, "raw": raw, "corpus": corpus, "scores": scores}


def _bad_corpus_footer(b):
    path = b["tmp"] / "broken.parquet"
    path.write_bytes(b"PAR1 this is not a parquet file")
    b["raw"]["corpus"]["uri"] = str(path)


MISTAKES = {
    "missing corpus path": (
        lambda b: b["raw"]["corpus"].update(uri=str(b["tmp"] / "nope.parquet")),
        ["corpus.uri", "not found", "nope.parquet"],
    ),
    "unreadable corpus footer": (_bad_corpus_footer, ["corpus.uri", "broken.parquet", "parquet"]),
    "missing id column": (
        lambda b: b["raw"]["corpus"].update(id_column="doc_id"),
        ["corpus.id_column: 'doc_id' is not a column of the corpus"],
    ),
    "missing score table": (
        lambda b: b["raw"]["scores"].update(uri=str(b["tmp"] / "gone.parquet")),
        ["scores.uri", "score table not found", "gone.parquet"],
    ),
    "missing score column": (
        lambda b: b["raw"]["scores"].update(columns=["edu"]),
        ["scores.columns", "'edu'", "scores.parquet"],
    ),
    "out-of-range parameter": (
        lambda b: b["raw"]["recipes"][1]["params"].update(folding_layer=0),
        ["recipes[1] (name 'fold').params", "folding_layer must be >= 1, got 0"],
    ),
    "unknown parameter": (
        lambda b: b["raw"]["recipes"][1]["params"].update(folds=2),
        ["recipes[1] (name 'fold').params", "folds"],
    ),
    "unknown probe preset": (
        lambda b: b["raw"]["probe"].update(preset="huge"),
        ["probe", "unknown probe preset 'huge'"],
    ),
}


def _write(b) -> str:
    path = b["tmp"] / "curation.yaml"
    path.write_text(yaml.safe_dump(b["raw"], sort_keys=False))
    return str(path)


@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_a_mistake_is_one_line_exit_2_and_no_run(base, mistake, monkeypatch, capsys):
    spoil, expected = MISTAKES[mistake]
    spoil(base)
    config = _write(base)
    home = base["tmp"] / "home"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with open_instance():  # an instance exists: the refusal must leave it without a run
        pass
    assert main(["run", "--config", config]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: {config}: "), lines[0]
    for part in expected:
        assert part in lines[0], (part, lines[0])
    with DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_runs() == []


def test_the_sensor_and_the_schedule_skip_naming_the_same(base, monkeypatch):
    spoil, expected = MISTAKES["missing score column"]
    good = make_project(base["tmp"] / "root", base["corpus"], base["scores"])
    defs = build_definitions(good)
    spoil(base)
    monkeypatch.setenv("CURATION_CONFIG", _write(base))
    with DagsterInstance.ephemeral() as instance:
        sensor = defs.resolve_sensor_def("refresh_sensor")
        result = sensor(build_sensor_context(instance=instance, cursor=None))
        schedule = defs.resolve_schedule_def("nightly_refresh")
        nightly = schedule(build_schedule_context(instance=instance))
        for skip in (result, nightly):
            assert isinstance(skip, SkipReason), skip
            assert skip.skip_message.startswith("not starting a run: ")
            assert all(part in skip.skip_message for part in expected), skip.skip_message
        assert instance.get_runs() == []


def test_a_sound_project_passes_preflight(base):
    from curation.project import load_project
    from curation.stages.preflight import project_problems

    config = _write(base)
    assert project_problems(load_project(config), config) == []
    assert os.path.exists(base["corpus"])


def test_curation_order_names_the_missing_score_table(tmp_path, capsys):
    missing = tmp_path / "scores.parquet"
    args = ["order", "--scores", str(missing), "--score-column", "q", "--method", "str"]
    assert main([*args, "--out", str(tmp_path / "o.parquet")]) == 2
    err = capsys.readouterr().err
    assert "score table not found" in err and str(missing) in err and "corpus" not in err
