"""Bad input: every case raises a clear error (a ValueError) naming the problem and at most
ten offending ids, files or lines, and nothing gets published.

Library level (fast); ``test_pipeline_bad_input.py`` shows the same through Dagster.
"""

import json
import os
import re
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from curation import publish
from curation.corpus.read import CorpusError, iter_batches, read_ids
from curation.ordering.engine import METHODS, order
from curation.publish import PublishError
from curation.scores import ScoreError, align_scores, combine_scores, import_scores
from curation.shards import ShardError, write_ordered_shards
from curation.stages.local import CheckFailed
from tests.factories import LINEAGE, corpus_table, score_table
from tests.reliability.helpers import run_library_pipeline

MAX_NAMED = 10


def listed_ids(message: str, prefix: str = "doc-") -> list[str]:
    return re.findall(rf"{prefix}\d+", message)


def assert_names_at_most_ten(message: str, expected_any: list[str]) -> None:
    named = listed_ids(message)
    assert 1 <= len(named) <= MAX_NAMED, message
    assert set(named) <= set(expected_any), message


def write_parquet(path: Path, table: pa.Table) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return str(path)


def write_jsonl(path: Path, rows: list[dict]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def nothing_under(root: Path) -> bool:
    return not root.exists() or not any(root.rglob("*"))


@pytest.fixture
def corpus(tmp_path) -> tuple[str, pa.Table]:
    table = corpus_table(40)
    return write_parquet(tmp_path / "corpus.parquet", table), table


def pipeline_publishes_nothing(
    tmp_path, corpus_uri: str, scores_uri: str, error: type = ValueError
) -> str:
    """Run a recipe through the production stages on bad input: it must fail (an error, or a
    blocking check) before anything is published."""
    root = tmp_path / "published"
    with pytest.raises(error) as err:
        run_library_pipeline(corpus_uri, scores_uri, str(tmp_path / "work"), str(root), "bad")
    assert nothing_under(root)
    return str(err.value)


# ---------------------------------------------------------------- columns


def test_corpus_missing_id_column_names_file_and_columns(tmp_path):
    uri = write_parquet(tmp_path / "c.parquet", corpus_table(5).rename_columns(["doc_id", "text"]))
    with pytest.raises(CorpusError, match=r"missing column\(s\) 'id'.*'doc_id'") as err:
        read_ids(uri)
    assert "c.parquet" in str(err.value)


def test_corpus_jsonl_renamed_column(tmp_path):
    uri = write_jsonl(tmp_path / "c.jsonl", [{"ident": "a", "text": "x"}])
    with pytest.raises(CorpusError, match=r"c\.jsonl.*missing column\(s\) 'id'"):
        read_ids(uri)


def test_corpus_files_with_different_columns_name_the_file(tmp_path):
    write_parquet(tmp_path / "c/a.parquet", corpus_table(5))
    extra = corpus_table(5, seed=1).append_column("lang", pa.array(["en"] * 5))
    write_parquet(tmp_path / "c/b.parquet", extra)
    with pytest.raises(CorpusError, match=r"b\.parquet: columns .* differ"):
        list(iter_batches(str(tmp_path / "c")))


def test_corpus_extra_columns_are_carried_into_shards(tmp_path):
    table = corpus_table(30).append_column("lang", pa.array(["en", "de", "fr"] * 10))
    uri = write_parquet(tmp_path / "c.parquet", table)
    rows = np.arange(30)[::-1].copy()
    shards = write_ordered_shards(
        uri, rows, str(tmp_path / "out"), rows_per_shard=12, progress=False
    )
    out = pa.concat_tables(pq.read_table(s.path) for s in shards)
    assert out.column("lang").to_pylist() == table.column("lang").take(rows).to_pylist()


def test_scores_missing_or_renamed_column(tmp_path, corpus):
    uri, table = corpus
    scores = score_table(table.column("id").to_pylist()).rename_columns(["id", "qualty"])
    path = write_parquet(tmp_path / "s.parquet", scores)
    with pytest.raises(ScoreError) as err:
        import_scores(path, score_columns=["quality"])
    assert err.value.problem == "missing_column" and err.value.column == "quality"
    assert "qualty" in str(err.value)  # the columns present are named
    assert "missing_column" in pipeline_publishes_nothing(tmp_path, uri, path, ScoreError)


def test_scores_missing_id_column(tmp_path):
    path = write_parquet(tmp_path / "s.parquet", pa.table({"key": ["a"], "quality": [1.0]}))
    with pytest.raises(ScoreError, match="missing_id_column.*'key'"):
        import_scores(path)


def test_scores_extra_column_is_named_unless_columns_are_chosen(tmp_path, corpus):
    _, table = corpus
    ids = table.column("id").to_pylist()
    scores = score_table(ids).append_column("note", pa.array(["fine"] * len(ids)))
    path = write_parquet(tmp_path / "s.parquet", scores)
    with pytest.raises(ScoreError) as err:
        import_scores(path)
    assert err.value.problem == "unparsable" and err.value.column == "note"
    assert len(err.value.ids) == MAX_NAMED
    assert import_scores(path, score_columns=["quality"]).column_names == ["id", "quality"]


# ---------------------------------------------------------------- ids


def test_duplicate_corpus_ids_name_at_most_ten(tmp_path):
    table = corpus_table(60)
    ids = table.column("id").to_pylist()
    ids[30:] = ids[:30]  # 30 ids repeated
    uri = write_parquet(tmp_path / "c.parquet", table.set_column(0, "id", pa.array(ids)))
    with pytest.raises(CorpusError, match="30 id\\(s\\) occur more than once") as err:
        read_ids(uri)
    assert_names_at_most_ten(str(err.value), ids[:30])


def test_null_corpus_ids_name_rows(tmp_path):
    uri = write_jsonl(tmp_path / "c.jsonl", [{"id": "a", "text": "x"}, {"id": None, "text": "y"}])
    with pytest.raises(CorpusError, match="1 null value.*rows 1"):
        read_ids(uri)


def test_duplicate_score_ids(tmp_path, corpus):
    uri, table = corpus
    ids = table.column("id").to_pylist()
    scores = score_table(ids + ids[:15])
    path = write_parquet(tmp_path / "s.parquet", scores)
    with pytest.raises(ScoreError) as err:
        align_scores(read_ids(uri), import_scores(path), "quality")
    assert err.value.problem == "duplicate_ids" and set(err.value.ids) <= set(ids[:15])
    assert len(err.value.ids) == MAX_NAMED
    message = pipeline_publishes_nothing(tmp_path, uri, path, CheckFailed)
    assert "duplicate ids in the score table" in message and ids[0] in message


def test_score_rows_for_unknown_ids(tmp_path, corpus):
    uri, table = corpus
    ids = table.column("id").to_pylist()
    unknown = [f"doc-9{i:05d}" for i in range(25)]
    path = write_parquet(tmp_path / "s.parquet", score_table(ids + unknown))
    with pytest.raises(ScoreError) as err:
        align_scores(read_ids(uri), import_scores(path), "quality")
    assert err.value.problem == "unknown_ids" and "25 score row(s)" in str(err.value)
    assert err.value.ids == unknown[:MAX_NAMED]
    message = pipeline_publishes_nothing(tmp_path, uri, path, CheckFailed)
    assert "score ids not in the corpus" in message and unknown[0] in message


def test_corpus_ids_without_scores(tmp_path, corpus):
    uri, table = corpus
    ids = table.column("id").to_pylist()
    path = write_parquet(tmp_path / "s.parquet", score_table(ids[:5]))
    with pytest.raises(ScoreError) as err:
        align_scores(read_ids(uri), import_scores(path), "quality")
    assert err.value.problem == "missing_scores" and "35 corpus id(s)" in str(err.value)
    assert err.value.ids == ids[5 : 5 + MAX_NAMED]
    message = pipeline_publishes_nothing(tmp_path, uri, path, CheckFailed)
    assert "corpus ids without a score" in message and ids[5] in message


def test_id_types_that_do_not_match(tmp_path, corpus):
    uri, _ = corpus
    path = write_parquet(tmp_path / "s.parquet", pa.table({"id": [1, 2], "quality": [1.0, 2.0]}))
    with pytest.raises(ScoreError, match="wrong_type.*both must be strings or both integers"):
        align_scores(read_ids(uri), import_scores(path), "quality")


# ---------------------------------------------------------------- values


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, None])
def test_non_finite_scores_name_the_ids(tmp_path, corpus, bad):
    uri, table = corpus
    ids = table.column("id").to_pylist()
    values = np.random.default_rng(0).random(len(ids)).tolist()
    for i in (3, 17):
        values[i] = bad
    path = write_parquet(
        tmp_path / "s.parquet", pa.table({"id": ids, "quality": pa.array(values, pa.float64())})
    )
    with pytest.raises(ScoreError) as err:
        align_scores(read_ids(uri), import_scores(path), "quality")
    assert err.value.problem == "non_finite" and err.value.ids == [ids[3], ids[17]]
    message = pipeline_publishes_nothing(tmp_path, uri, path, CheckFailed)
    assert "scores in" in message and ids[3] in message and ids[17] in message


def test_strings_that_are_not_numbers(tmp_path, corpus):
    uri, table = corpus
    ids = table.column("id").to_pylist()
    text = [str(v) for v in np.random.default_rng(1).random(len(ids))]
    text[4], text[9], text[11] = "n/a", "", "1,5"
    path = tmp_path / "s.csv"
    pacsv.write_csv(pa.table({"id": ids, "quality": text}), path)
    with pytest.raises(ScoreError) as err:
        import_scores(str(path))
    assert err.value.problem == "unparsable" and "'n/a'" in str(err.value)
    assert {ids[4], ids[11]} <= set(err.value.ids) and len(err.value.ids) <= MAX_NAMED
    assert "unparsable" in pipeline_publishes_nothing(tmp_path, uri, str(path), ScoreError)


def test_numbers_as_strings_are_accepted(tmp_path, corpus):
    _, table = corpus
    ids = table.column("id").to_pylist()
    path = tmp_path / "s.csv"
    pacsv.write_csv(
        pa.table({"id": ids, "quality": [f" {i}.5e-1 " for i in range(len(ids))]}), path
    )
    assert import_scores(str(path)).column("quality")[2].as_py() == pytest.approx(0.25)


# ---------------------------------------------------------------- sizes


def test_empty_corpus_in_every_format(tmp_path):
    empty = pa.table({"id": pa.array([], pa.string()), "text": pa.array([], pa.string())})
    cases = [write_parquet(tmp_path / "e.parquet", empty)]
    for name in ("e.jsonl", "e.csv"):
        (tmp_path / name).write_bytes(b"")
        cases.append(str(tmp_path / name))
    for uri in cases:
        with pytest.raises(CorpusError, match="is empty: no rows"):
            read_ids(uri)
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir/readme.txt").write_text("no data here")
    with pytest.raises(CorpusError, match="no corpus files.*readme.txt"):
        read_ids(str(tmp_path / "dir"))


def test_empty_score_table(tmp_path, corpus):
    uri, _ = corpus
    (tmp_path / "s.jsonl").write_bytes(b"")
    with pytest.raises(ScoreError, match="empty_table"):
        import_scores(str(tmp_path / "s.jsonl"))
    assert "empty_table" in pipeline_publishes_nothing(
        tmp_path, uri, str(tmp_path / "s.jsonl"), ScoreError
    )


def test_single_document_goes_all_the_way(tmp_path):
    uri = write_parquet(tmp_path / "c.parquet", corpus_table(1))
    scores = write_parquet(tmp_path / "s.parquet", score_table(["doc-000000"]))
    root = str(tmp_path / "root")
    for method in METHODS:
        run_library_pipeline(
            uri, scores, str(tmp_path / "work" / method), root, method, method=method
        )
        assert publish.open_version(root, method).num_rows == 1
        assert publish.verify_version(root, method) == []


@pytest.mark.parametrize("n", [2, 3, 997])
def test_all_scores_equal_every_method_gives_a_valid_order(n):
    values = np.full(n, 0.25)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for method in METHODS:
            rows = np.asarray(order(values, method, seed=3))
            assert np.array_equal(np.sort(rows), np.arange(n)), method
            assert np.array_equal(rows, np.asarray(order(values, method, seed=3))), method
        assert np.array_equal(np.asarray(order(values, "sorted")), np.arange(n))  # stable ties
    combined, _ = combine_scores(
        pa.table({"id": list(range(n)), "a": values, "b": values}), ["a", "b"]
    )
    assert np.all(np.isfinite(combined)) and np.ptp(combined) == 0


def test_a_50_mb_document_in_every_format(tmp_path):
    big = "ab cd " * (50 * 2**20 // 6)
    table = pa.table({"id": ["a", "big", "z"], "text": ["small", big, "tail"]})
    pq.write_table(table, tmp_path / "c.parquet")
    pacsv.write_csv(table, tmp_path / "c.csv")
    with open(tmp_path / "c.jsonl", "w") as f:
        for row in table.to_pylist():
            f.write(json.dumps(row) + "\n")
    for name in ("c.parquet", "c.csv", "c.jsonl"):
        uri = str(tmp_path / name)
        assert read_ids(uri).to_pylist() == ["a", "big", "z"], name
        lengths = [
            len(t) for b in iter_batches(uri, columns=["text"]) for t in b.column(0).to_pylist()
        ]
        assert lengths == [5, len(big), 4], name
    scores = write_parquet(
        tmp_path / "s.parquet", pa.table({"id": ["a", "big", "z"], "quality": [0.3, 0.2, 0.1]})
    )
    root = str(tmp_path / "root")
    version = run_library_pipeline(
        str(tmp_path / "c.parquet"),
        scores,
        str(tmp_path / "w"),
        root,
        "big",
        method="sorted",
        rows_per_shard=2,
    )
    assert publish.verify_version(root, "big", version) == []


# ---------------------------------------------------------------- damaged files


def damaged_copies(tmp_path: Path, table: pa.Table) -> dict[str, str]:
    """A truncated parquet file and one with garbage in the middle of its data."""
    good = tmp_path / "good.parquet"
    pq.write_table(table, good)
    data = good.read_bytes()
    (tmp_path / "truncated.parquet").write_bytes(data[: len(data) // 2])
    corrupt = bytearray(data)
    middle = len(data) // 2
    corrupt[middle : middle + 256] = np.random.default_rng(0).bytes(256)
    (tmp_path / "corrupt.parquet").write_bytes(bytes(corrupt))
    return {name: str(tmp_path / f"{name}.parquet") for name in ("truncated", "corrupt")}


def test_truncated_or_corrupt_corpus_parquet_names_the_file(tmp_path):
    files = damaged_copies(tmp_path, corpus_table(500))
    for name, uri in files.items():
        with pytest.raises(CorpusError, match=rf"{name}\.parquet: corrupt or truncated parquet"):
            list(iter_batches(uri))


def test_truncated_or_corrupt_score_parquet_names_the_file(tmp_path, corpus):
    uri, table = corpus
    ids = table.column("id").to_pylist() * 20
    files = damaged_copies(
        tmp_path, pa.table({"id": ids, "quality": [str(i) * 9 for i in range(len(ids))]})
    )
    for name, path in files.items():
        with pytest.raises(ScoreError, match=rf"unreadable.*{name}\.parquet"):
            import_scores(path)
    message = pipeline_publishes_nothing(tmp_path, uri, files["truncated"], ScoreError)
    assert "truncated.parquet" in message


def test_shards_from_a_damaged_corpus_name_the_file(tmp_path):
    """(Was a bare OSError('Corrupt snappy compressed data.'); fixed in shards.py.)"""
    files = damaged_copies(tmp_path, corpus_table(500))
    for name, uri in files.items():
        with pytest.raises(ShardError, match=f"{name}.parquet"):
            write_ordered_shards(
                uri,
                np.arange(500)[::-1].copy(),
                str(tmp_path / name),
                rows_per_shard=100,
                progress=False,
            )


def test_corrupt_shard_is_named_and_nothing_is_published(tmp_path):
    shards = []
    for i in range(3):
        t = corpus_table(20, seed=i).append_column(
            "_curation_position", pa.array(np.arange(20) + 20 * i)
        )
        shards.append(write_parquet(tmp_path / f"in/s{i}.parquet", t))
    data = Path(shards[1]).read_bytes()
    Path(shards[1]).write_bytes(data[:-30])
    root = tmp_path / "root"
    with pytest.raises(PublishError, match=r"1 shard\(s\) are not readable.*s1\.parquet"):
        publish.publish_version(str(root), "ds", shards, LINEAGE)
    assert nothing_under(root)


def test_jsonl_with_a_broken_line_names_the_line(tmp_path):
    lines = [json.dumps({"id": f"doc-{i}", "text": "ok"}) for i in range(50)]
    lines[36] = '{"id": "doc-36", "text": "unterminated'
    (tmp_path / "c.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(CorpusError, match=r"c\.jsonl: broken JSON lines file: line 37 "):
        read_ids(str(tmp_path / "c.jsonl"))
    with pytest.raises(ScoreError, match="unreadable.*line 37"):
        import_scores(str(tmp_path / "c.jsonl"))


def test_jsonl_line_that_is_not_an_object(tmp_path):
    (tmp_path / "c.jsonl").write_text('{"id": "a", "text": "x"}\n[1, 2]\n')
    with pytest.raises(CorpusError, match="line 2 is not a JSON object"):
        read_ids(str(tmp_path / "c.jsonl"))


@pytest.mark.parametrize("name", ["c.jsonl", "c.csv"])
def test_non_utf8_bytes_name_offset_and_line(tmp_path, name):
    if name.endswith("jsonl"):
        body = b'{"id": "a", "text": "fine"}\n{"id": "b", "text": "caf\xe9"}\n'
    else:
        body = b"id,text\na,fine\nb,caf\xe9\n"
    (tmp_path / name).write_bytes(body)
    with pytest.raises(
        CorpusError,
        match=r"invalid UTF-8 byte b'\\xe9' at byte offset \d+ "
        r"\(line \d\)",
    ) as err:
        list(iter_batches(str(tmp_path / name)))
    assert name in str(err.value)


def test_non_utf8_in_a_score_file(tmp_path):
    (tmp_path / "s.csv").write_bytes(b"id,quality\na,1.0\nb\xff,2.0\n")
    with pytest.raises(ScoreError, match="unreadable.*invalid UTF-8"):
        import_scores(str(tmp_path / "s.csv"))


def test_every_error_is_a_value_error():
    for cls in (CorpusError, ScoreError, PublishError, ShardError):
        assert issubclass(cls, ValueError)


def test_no_stray_files_outside_tmp(tmp_path):
    """The pipeline helpers write only where told: nothing lands in the working directory."""
    before = set(os.listdir("."))
    uri = write_parquet(tmp_path / "c.parquet", corpus_table(10))
    scores = write_parquet(tmp_path / "s.parquet", score_table(read_ids(uri).to_pylist()))
    run_library_pipeline(uri, scores, str(tmp_path / "w"), str(tmp_path / "r"), "ds")
    assert set(os.listdir(".")) == before
