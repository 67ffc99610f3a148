"""Late refusals (issue: trust, round three, class 4): every name and schema clash the
project file and the corpus footers can reveal is refused before any work, and the clash a
user cannot avoid (a corpus with its own ``score`` column) does not exist."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.project import RecipeError, load_project, parse_project
from curation.shards import ShardError, ShardJob, corpus_layout
from curation.shards.columns import POSITION, SCORE
from curation.stages.preflight import PreflightError, check_corpus, prepare_corpus

RECIPES = [{"name": "sorted", "method": "sorted"}]


def project(tmp_path, corpus: str, scores: dict | None = None, prefix: str = "ds"):
    return parse_project(
        {
            "corpus": {"uri": corpus},
            "scores": scores if scores is not None else {"column": "int_score"},
            "storage": {"root": str(tmp_path / "root"), "dataset_prefix": prefix},
            "recipes": RECIPES,
        }
    )


def corpus(tmp_path, **extra) -> str:
    table = pa.table(
        {"id": ["a", "b", "c"], "text": ["x", "y", "z"], "score": [2.5, 1.0, 3.5]}
        | {"int_score": [2, 1, 3]}
        | extra
    )
    path = tmp_path / "c.parquet"
    pq.write_table(table, path)
    return str(path)


def test_a_prefix_that_makes_a_dataset_name_too_long_is_refused_when_the_file_is_read(tmp_path):
    with pytest.raises(RecipeError, match=r"dataset_prefix 'p{10}.*recipe 'sorted'.*130 char"):
        project(tmp_path, corpus(tmp_path), prefix="p" * 123)
    path = tmp_path / "curation.yaml"
    path.write_text(json.dumps({"recipes": RECIPES}))
    with pytest.raises(RecipeError, match=r"storage.dataset_prefix"):
        load_project(path, env={"CURATION_DATASET": "q" * 125})
    assert not (tmp_path / "root").exists()


def test_a_corpus_with_its_own_score_and_position_columns_is_accepted(tmp_path):
    uri = corpus(tmp_path, position=[9, 8, 7])
    proj = project(tmp_path, uri)
    assert check_corpus(proj, uri).names == ["id", "text", "score", "int_score", "position"]
    job = ShardJob.prepare(uri, [2, 0, 1], extra_columns={SCORE: [3.0, 2.0, 1.0]})
    assert job.schema.names[-2:] == [POSITION, SCORE]


def test_every_problem_is_named_at_once_before_any_work(tmp_path):
    table = pa.table({"doc": ["a"], "body": ["x"], "int_score": [[1]], "_curation_x": [1]})
    pq.write_table(table, tmp_path / "c.parquet")
    proj = project(tmp_path, str(tmp_path / "c.parquet"))
    with pytest.raises(PreflightError) as caught:
        prepare_corpus(proj)
    message = str(caught.value)
    for part in ("'_curation_x'", "reserved"):
        assert part in message
    assert not (tmp_path / "root").exists()
    pq.write_table(table.drop_columns(["_curation_x"]), tmp_path / "c.parquet")
    with pytest.raises(PreflightError) as caught:
        prepare_corpus(proj)
    message = str(caught.value)
    for part in ("corpus.id_column 'id'", "corpus.text_column 'text'", "int_score' is list<"):
        assert part in message
    assert not (tmp_path / "root").exists()


def test_a_missing_score_column_is_named_with_the_columns_present(tmp_path):
    proj = project(tmp_path, corpus(tmp_path), scores={"column": "edu_score"})
    with pytest.raises(
        PreflightError, match=r"score column 'edu_score' is not a column.*int_score"
    ):
        prepare_corpus(proj)


def test_a_jsonl_corpus_with_a_reserved_column_is_refused_before_conversion(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.jsonl").write_text(json.dumps({"id": "a", "text": "x", "_curation_score": 1}))
    proj = project(tmp_path, str(src), scores={})
    with pytest.raises(PreflightError, match=r"_curation_score.*reserved"):
        prepare_corpus(proj)
    assert not (tmp_path / "root").exists()


def test_scores_named_as_the_corpus_need_their_columns(tmp_path):
    uri = corpus(tmp_path)
    with pytest.raises(RecipeError, match=r"scores.uri is the corpus itself"):
        project(tmp_path, uri, scores={"uri": uri})
    assert project(tmp_path, uri, scores={"uri": uri, "columns": ["score"]}).corpus_score_columns
    with pytest.raises(RecipeError, match=r"scores.column .* not both"):
        project(tmp_path, uri, scores={"uri": uri, "column": "score"})


def test_the_shard_writer_still_refuses_unreserved_extra_columns(tmp_path):
    uri = corpus(tmp_path)
    with pytest.raises(ShardError, match=r"'score' must be a reserved name"):
        ShardJob.prepare(uri, [0, 1, 2], extra_columns={"score": [1.0, 2.0, 3.0]})
    assert corpus_layout(uri).n_rows == 3


def test_file_row_ids_are_checked_before_a_run(tmp_path):
    """ids: file_row needs records without the id field, and a corpus that is staged."""
    from curation.stages.preflight import project_problems

    src = tmp_path / "src"
    src.mkdir()
    (src / "a.jsonl").write_text(json.dumps({"text": "x", "int_score": 1}) + "\n")
    raw = {
        "corpus": {"uri": str(src), "ids": "file_row"},
        "scores": {"column": "int_score"},
        "storage": {"root": str(tmp_path / "root")},
        "recipes": RECIPES,
    }
    assert project_problems(parse_project(raw), "p.yaml") == []
    (src / "a.jsonl").write_text(json.dumps({"id": "a", "text": "x", "int_score": 1}) + "\n")
    (problem,) = project_problems(parse_project(raw), "p.yaml")
    assert "already have a 'id' field" in problem
    with pytest.raises(PreflightError, match="already have a 'id' field"):
        prepare_corpus(parse_project(raw))
    raw["corpus"]["uri"] = corpus(tmp_path)
    (problem,) = project_problems(parse_project(raw), "p.yaml")
    assert "parquet, read in place" in problem


def test_selection_rules_the_footers_refute_are_refused_before_any_work(tmp_path):
    from curation.stages.preflight import project_problems

    uri = corpus(tmp_path)
    scores = tmp_path / "s.parquet"
    pq.write_table(pa.table({"id": ["a", "b", "c"], "q": [1.0, 2.0, 3.0], "e": [1, 2, 3]}), scores)
    raw = {
        "corpus": {"uri": uri},
        "scores": {"uri": str(scores)},  # every column of the table, not listed in the file
        "storage": {"root": str(tmp_path / "root")},
        "recipes": [
            {"name": "thr", "method": "sorted", "select": {"threshold": 1.5}},
            {"name": "nope", "method": "sorted", "select": {"top_k": 1, "score": "edu"}},
            {"name": "tiny", "method": "saw", "select": {"top_fraction": 0.2}},
            {"name": "fine", "method": "saw", "select": {"threshold": 1.5, "score": "e"}},
        ],
    }
    problems = project_problems(parse_project(raw), "curation.yaml")
    assert problems == [
        "curation.yaml: recipes[0] (name 'thr').select: a threshold on the combined, "
        "rank-normalised score of ['q', 'e'] has no fixed units; name a raw column with "
        "'score: <column>'",
        "curation.yaml: recipes[1] (name 'nope').select: score 'edu' is not a score column; "
        "columns: ['q', 'e']",
        "curation.yaml: recipes[2] (name 'tiny').select.top_fraction: 0.2 keeps nothing of "
        "the corpus's 3 rows",
    ]
    assert not (tmp_path / "root").exists()
