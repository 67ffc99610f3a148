"""every bad input is named; nothing is converted silently."""

import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.corpus.ids import IdTypeError, normalize_ids
from curation.corpus.read import CorpusError, list_corpus_files, read_ids
from curation.scores import ScoreError, align_scores, import_scores
from curation.scores.base import score_corpus


def _corpus(path, n=4):
    path.mkdir(parents=True, exist_ok=True)
    table = pa.table({"id": [f"d{i}" for i in range(n)], "text": [f"text {i}" for i in range(n)]})
    pq.write_table(table, path / "a.parquet")
    return path


@pytest.mark.parametrize("kind", ["dangling", "loop", "directory"])
def test_corpus_entries_that_are_not_files_are_refused_by_name(tmp_path, kind):
    corpus = _corpus(tmp_path / "c")
    bad = corpus / "b.parquet"
    if kind == "dangling":
        os.symlink(tmp_path / "nowhere.parquet", bad)
    elif kind == "loop":
        os.symlink(corpus / "b2.parquet", bad)
        os.symlink(bad, corpus / "b2.parquet")
    else:
        bad.mkdir()
    with pytest.raises(CorpusError, match=r"b\.parquet"):
        list_corpus_files(str(corpus))


@pytest.mark.parametrize("ext", ["csv", "jsonl"])
def test_string_ids_from_text_score_tables_stay_strings(tmp_path, ext):
    path = tmp_path / f"s.{ext}"
    if ext == "csv":
        path.write_text("id,q\n007,1.5\n2024-01-01,2\n7,3\n")
    else:
        path.write_text(
            '{"id": "007", "q": 1.5}\n{"id": "2024-01-01", "q": 2}\n{"id": "7", "q": 3}\n'
        )
    table = import_scores(str(path))
    assert table.column("id").to_pylist() == ["007", "2024-01-01", "7"]
    corpus = pa.array(["7", "007", "2024-01-01"])
    assert align_scores(corpus, table, "q").tolist() == [3.0, 1.5, 2.0]  # 007 is not 7


def test_mixed_int_and_string_ids_in_jsonl_are_named_by_line(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_text('{"id": 1, "q": 1}\n{"id": 2, "q": 2}\n{"id": "x", "q": 3}\n')
    with pytest.raises(ScoreError, match=r"'id' is a string on line 3 but a number on line 1"):
        import_scores(str(path))


def test_uint64_ids_above_int64_are_refused_naming_the_column(tmp_path):
    ids = pa.array([1, 2**63 + 5], pa.uint64())
    with pytest.raises(IdTypeError, match=r"'doc_id'.*9223372036854775813"):
        normalize_ids(ids, "doc_id")
    pq.write_table(pa.table({"doc_id": ids, "text": ["a", "b"]}), tmp_path / "c.parquet")
    with pytest.raises(CorpusError, match=r"c\.parquet.*'doc_id'.*above the int64 maximum"):
        read_ids(str(tmp_path / "c.parquet"), "doc_id")
    assert normalize_ids(pa.array([1, 2], pa.uint64())).type == pa.int64()  # small ones fit


def test_integer_scores_that_lose_precision_are_refused_by_id(tmp_path):
    path = tmp_path / "s.parquet"
    pq.write_table(pa.table({"id": ["a", "b", "c"], "q": [1, 2**53 + 1, 3]}), path)
    with pytest.raises(ScoreError, match=r"exceed 2\^53") as err:
        import_scores(str(path))
    assert err.value.ids == ["b"] and err.value.column == "q"


def test_null_texts_are_refused_by_the_scorers_unless_configured(tmp_path):
    table = pa.table({"id": ["a", "b", "c"], "text": ["one", None, "three"]})
    pq.write_table(table, tmp_path / "c.parquet")
    with pytest.raises(CorpusError, match=r"null 'text' \(ids \['b'\]\)"):
        score_corpus(str(tmp_path / "c.parquet"), ["length"], progress=False)
    scored = score_corpus(
        str(tmp_path / "c.parquet"), ["length"], progress=False, null_texts="empty"
    )
    assert np.isfinite(scored.column(1).to_numpy()).all()


def test_a_missing_s3_bucket_is_named(s3_bucket, tmp_path):
    from curation import publish

    missing = s3_bucket + "-missing"
    bucket = missing[len("s3://") :]
    shard = str(tmp_path / "s.parquet")
    pq.write_table(pa.table({"id": ["a"], "text": ["x"]}), shard)
    lineage = {k: "x" for k in publish.REQUIRED_LINEAGE}
    attempts = [
        lambda: read_ids(missing + "/corpus"),
        lambda: import_scores(missing + "/s.parquet"),
        lambda: publish.list_datasets(missing + "/root"),
        lambda: publish.publish_version(
            missing + "/root", "web", [str(tmp_path / "s.parquet")], lineage
        ),
    ]
    for attempt in attempts:
        with pytest.raises((ValueError, OSError), match=bucket):
            attempt()
