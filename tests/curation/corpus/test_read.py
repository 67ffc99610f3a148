import gzip

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.corpus.read import (
    CorpusError,
    corpus_version,
    iter_batches,
    list_corpus_files,
    read_ids,
)


def write_jsonl(path, rows: list[bytes]) -> None:
    path.write_bytes(b"".join(r + b"\n" for r in rows))


def docs(prefix: str, n: int) -> list[bytes]:
    return [b'{"id": "%s%d", "text": "document %d"}' % (prefix.encode(), i, i) for i in range(n)]


def test_directory_of_mixed_formats_reads_in_name_order(tmp_path):
    write_jsonl(tmp_path / "b.jsonl", docs("b", 3))
    (tmp_path / "c.jsonl.gz").write_bytes(gzip.compress(b"\n".join(docs("c", 2))))
    pq.write_table(pa.table({"id": ["a0", "a1"], "text": ["x", "y"]}), tmp_path / "a.parquet")
    (tmp_path / "d.csv").write_text("id,text\nd0,hello\n")
    (tmp_path / "notes.txt").write_text("ignored")
    assert [loc.path.rsplit("/", 1)[1] for loc in list_corpus_files(str(tmp_path))] == [
        "a.parquet",
        "b.jsonl",
        "c.jsonl.gz",
        "d.csv",
    ]
    assert read_ids(str(tmp_path)).to_pylist() == ["a0", "a1", "b0", "b1", "b2", "c0", "c1", "d0"]


def test_batches_are_bounded_and_keep_row_order(tmp_path):
    write_jsonl(tmp_path / "x.jsonl", docs("r", 1000))
    batches = list(iter_batches(str(tmp_path / "x.jsonl"), columns=["id"], batch_size=128))
    assert max(b.num_rows for b in batches) <= 128
    ids = [i for b in batches for i in b.column(0).to_pylist()]
    assert ids == [f"r{i}" for i in range(1000)]


def test_int_ids_are_int64(tmp_path):
    pq.write_table(
        pa.table({"id": pa.array([3, 1, 2], pa.int32()), "text": list("abc")}),
        tmp_path / "c.parquet",
    )
    ids = read_ids(str(tmp_path / "c.parquet"))
    assert ids.type == pa.int64() and ids.to_pylist() == [3, 1, 2]


def test_missing_id_column_names_file_and_columns(tmp_path):
    pq.write_table(pa.table({"doc": ["a"], "text": ["x"]}), tmp_path / "c.parquet")
    with pytest.raises(CorpusError, match=r"c\.parquet.*'id'.*'doc', 'text'"):
        read_ids(str(tmp_path / "c.parquet"))


def test_missing_text_column_in_jsonl_names_file(tmp_path):
    write_jsonl(tmp_path / "c.jsonl", [b'{"id": "a", "body": "x"}'])
    with pytest.raises(CorpusError, match=r"c\.jsonl.*'text'.*'id', 'body'"):
        list(iter_batches(str(tmp_path / "c.jsonl"), columns=["id", "text"]))


def test_duplicate_ids_are_listed(tmp_path):
    write_jsonl(tmp_path / "c.jsonl", docs("a", 3) + docs("a", 2))
    with pytest.raises(CorpusError, match=r"2 id\(s\) occur more than once.*'a0', 'a1'") as info:
        read_ids(str(tmp_path / "c.jsonl"))
    assert "'a2'" not in str(info.value)


def test_duplicate_list_is_capped_at_ten(tmp_path):
    write_jsonl(tmp_path / "c.jsonl", docs("a", 15) + docs("a", 15))
    with pytest.raises(CorpusError, match=r"15 id\(s\) occur more than once") as info:
        read_ids(str(tmp_path / "c.jsonl"))
    assert str(info.value).count("'a") == 10


def test_null_ids_name_the_rows(tmp_path):
    pq.write_table(pa.table({"id": ["a", None, "c"], "text": list("xyz")}), tmp_path / "c.parquet")
    with pytest.raises(CorpusError, match=r"null value.*rows 1"):
        read_ids(str(tmp_path / "c.parquet"))


def test_empty_corpus(tmp_path):
    pq.write_table(
        pa.table({"id": pa.array([], pa.string()), "text": pa.array([], pa.string())}),
        tmp_path / "c.parquet",
    )
    with pytest.raises(CorpusError, match="empty"):
        read_ids(str(tmp_path / "c.parquet"))


def test_directory_without_corpus_files(tmp_path):
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(CorpusError, match=r"no corpus files.*readme\.txt"):
        read_ids(str(tmp_path))


def test_truncated_parquet_names_the_file(tmp_path):
    pq.write_table(pa.table({"id": ["a", "b"], "text": ["x", "y"]}), tmp_path / "good.parquet")
    data = (tmp_path / "good.parquet").read_bytes()
    (tmp_path / "bad.parquet").write_bytes(data[: len(data) // 2])
    with pytest.raises(CorpusError, match=r"bad\.parquet.*corrupt or truncated"):
        read_ids(str(tmp_path))


def test_broken_jsonl_line_names_file_and_line(tmp_path):
    rows = docs("a", 5)
    rows[3] = b'{"id": "a3", "text": "unterminated'
    write_jsonl(tmp_path / "c.jsonl", rows)
    with pytest.raises(CorpusError, match=r"c\.jsonl.*line 4"):
        read_ids(str(tmp_path / "c.jsonl"))


def test_non_utf8_names_file_offset_and_line(tmp_path):
    rows = docs("a", 3) + [b'{"id": "a3", "text": "caf\xe9"}']
    write_jsonl(tmp_path / "c.jsonl", rows)
    offset = sum(len(r) + 1 for r in rows[:3]) + rows[3].index(b"\xe9")
    with pytest.raises(CorpusError, match=rf"c\.jsonl.*byte offset {offset} \(line 4\)"):
        list(iter_batches(str(tmp_path / "c.jsonl")))


def test_non_utf8_csv_is_reported(tmp_path):
    (tmp_path / "c.csv").write_bytes(b"id,text\na,ok\nb,caf\xe9\n")
    with pytest.raises(CorpusError, match=r"c\.csv.*invalid UTF-8.*line 3"):
        list(iter_batches(str(tmp_path / "c.csv")))


def test_corpus_version_tracks_content_not_location(tmp_path):
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        write_jsonl(tmp_path / name / "c.jsonl", docs("a", 5))
    first = corpus_version(str(tmp_path / "one"))
    assert len(first) == 16 and first == corpus_version(str(tmp_path / "two"))
    write_jsonl(tmp_path / "two" / "c.jsonl", docs("a", 6))
    assert corpus_version(str(tmp_path / "two")) != first
