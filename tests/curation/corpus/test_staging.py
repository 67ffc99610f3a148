"""Raw corpora staged once as parquet: every shape teams hold, content-keyed reuse, errors
naming file and line, deterministic schema unification."""

import gzip
import json
import os
import warnings
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.corpus.listing import corpus_sources
from curation.corpus.read import CorpusError, iter_batches, read_ids
from curation.corpus.staging import COMMIT, StagingError, stage_corpus


def dolma_rows(n: int, start: int = 0) -> list[dict]:
    """Dolma-shaped records: id, text, source, added (ISO string), nested metadata."""
    return [
        {
            "id": f"doc-{i:05d}",
            "text": f"document {i} " + "word " * (i % 17),
            "source": ["web", "books", "wiki"][i % 3],
            "added": f"2024-01-{1 + i % 28:02d}T00:00:00Z",
            "metadata": {
                "url": f"https://example.org/{i}",
                "length": i * 3,
                "tags": ["a"] * (i % 3),
            },
        }
        for i in range(start, start + n)
    ]


def write_jsonl(path: Path, rows: list[dict], codec: str | None = None) -> Path:
    data = "".join(json.dumps(r) + "\n" for r in rows).encode()
    if codec == "gzip":
        path.write_bytes(gzip.compress(data))
    elif codec == "zstd":
        with pa.CompressedOutputStream(str(path), "zstd") as f:
            f.write(data)
    else:
        path.write_bytes(data)
    return path


def jsonl_dir(base: Path, rows: list[dict], codec: str | None, files: int = 3) -> str:
    suffix = {"gzip": ".jsonl.gz", "zstd": ".jsonl.zst", None: ".jsonl"}[codec]
    base.mkdir(parents=True, exist_ok=True)
    step = -(-len(rows) // files)
    for f in range(files):
        write_jsonl(base / f"part-{f:03d}{suffix}", rows[f * step : (f + 1) * step], codec)
    return str(base)


def staged_table(staged) -> pa.Table:
    return pa.Table.from_batches(list(iter_batches(staged.uri)))


@pytest.mark.parametrize("codec", ["gzip", "zstd", None])
def test_jsonl_dirs_stage_to_the_rows_of_the_same_parquet(tmp_path, codec):
    rows = dolma_rows(300)
    source = jsonl_dir(tmp_path / "src", rows, codec)
    staged = stage_corpus(source, str(tmp_path / "root"), log=lambda m: None)
    assert staged.format == "jsonl" and not staged.reused
    assert Path(staged.uri).parent.name == "staging"
    table = staged_table(staged)
    assert table.to_pylist() == pa.Table.from_pylist(rows).to_pylist()
    schema = table.schema
    assert schema.names == ["id", "text", "source", "added", "metadata"]
    assert schema.field("added").type == pa.string()  # JSON strings stay strings
    assert pa.types.is_struct(schema.field("metadata").type)
    assert pa.types.is_list(schema.field("metadata").type.field("tags").type)


def test_a_second_run_reuses_the_copy_and_a_changed_file_rebuilds_it(tmp_path):
    source = jsonl_dir(tmp_path / "src", dolma_rows(90), "zstd")
    root = str(tmp_path / "root")
    first = stage_corpus(source, root, log=lambda m: None)
    parts = sorted(Path(first.uri).glob("part-*.parquet"))
    stamps = [p.stat().st_mtime_ns for p in parts]
    messages: list[str] = []
    second = stage_corpus(source, root, log=messages.append)
    assert second.reused and second.uri == first.uri
    assert [p.stat().st_mtime_ns for p in parts] == stamps  # nothing rewritten
    assert any("reusing" in m for m in messages)
    changed = dolma_rows(30)
    changed[0]["text"] = "edited"
    write_jsonl(Path(source) / "part-000.jsonl.zst", changed, "zstd")
    third = stage_corpus(source, root, log=lambda m: None)
    assert not third.reused and third.uri != first.uri
    assert staged_table(third).column("text")[0].as_py() == "edited"


def test_the_key_is_the_content_hash_not_the_size_and_mtime(tmp_path):
    """Same size, mtime put back: the hash cache would say 'unchanged'; an edit that keeps
    size and mtime is still caught once the cache is gone, and bytes decide the key."""
    source = jsonl_dir(tmp_path / "src", dolma_rows(30), None, files=1)
    root = tmp_path / "root"
    first = stage_corpus(source, str(root), log=lambda m: None)
    path = Path(source) / "part-000.jsonl"
    stat = path.stat()
    path.write_bytes(path.read_bytes().replace(b"document 1 ", b"document X "))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    for cache in (root / "staging" / "_hashes").glob("*.json"):
        cache.unlink()
    second = stage_corpus(source, str(root), log=lambda m: None)
    assert second.key != first.key and not second.reused


def test_a_moved_corpus_keeps_its_key(tmp_path):
    rows = dolma_rows(40)
    a = stage_corpus(jsonl_dir(tmp_path / "a", rows, "gzip"), str(tmp_path / "r"), log=print)
    b = stage_corpus(jsonl_dir(tmp_path / "b", rows, "gzip"), str(tmp_path / "r"), log=print)
    assert a.key == b.key and b.reused


def test_parquet_is_read_in_place(tmp_path):
    path = tmp_path / "c.parquet"
    pq.write_table(pa.Table.from_pylist(dolma_rows(5)), path)
    staged = stage_corpus(str(path), str(tmp_path / "root"))
    assert staged.uri == str(path) and staged.format == "parquet"
    assert not (tmp_path / "root" / "staging").exists()


def test_a_broken_record_is_named_by_file_and_line(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    write_jsonl(src / "a.jsonl.gz", dolma_rows(5), "gzip")
    lines = [json.dumps(r) for r in dolma_rows(6, start=5)]
    lines[3] = '{"id": "doc-x", "text": "cut'
    (src / "b.jsonl.gz").write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    with pytest.raises(StagingError, match=r"b\.jsonl\.gz: line 4 is not valid JSON"):
        stage_corpus(str(src), str(tmp_path / "root"), log=lambda m: None)
    assert not list((tmp_path / "root" / "staging").glob(".tmp-*"))  # nothing left behind


def test_invalid_utf8_is_named_by_line(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    good = "".join(json.dumps(r) + "\n" for r in dolma_rows(3)).encode()
    (src / "a.jsonl").write_bytes(good + b'{"id": "bad", "text": "caf\xe9"}\n')
    with pytest.raises(StagingError, match=r"a\.jsonl: invalid UTF-8 byte .* on line 4"):
        stage_corpus(str(src), str(tmp_path / "root"), log=lambda m: None)


def test_mixed_formats_are_refused_by_name(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    write_jsonl(src / "a.jsonl.gz", dolma_rows(3), "gzip")
    pq.write_table(pa.Table.from_pylist(dolma_rows(3, start=3)), src / "b.parquet")
    with pytest.raises(CorpusError, match=r"mixes formats .*a\.jsonl\.gz.*b\.parquet"):
        stage_corpus(str(src), str(tmp_path / "root"))


def test_schemas_unify_across_files_in_file_order(tmp_path):
    """Later files bring a float, a new field, a null-typed column that gains a type."""
    src = tmp_path / "src"
    src.mkdir()
    write_jsonl(src / "a.jsonl", [{"id": "a", "text": "x", "n": 1, "m": None, "s": {"p": 1}}])
    write_jsonl(src / "b.jsonl", [{"id": "b", "text": "y", "n": 2.5, "m": "z", "s": {"q": "r"}}])
    write_jsonl(src / "c.jsonl", [{"new": True, "id": "c", "text": "w"}])
    table = staged_table(stage_corpus(str(src), str(tmp_path / "root"), log=lambda m: None))
    assert table.column_names == ["id", "text", "n", "m", "s", "new"]
    assert table.schema.field("n").type == pa.float64()
    assert table.schema.field("m").type == pa.string()
    assert table.to_pylist()[2] == {
        "id": "c",
        "text": "w",
        "n": None,
        "m": None,
        "s": None,
        "new": True,
    }
    assert table.column("s").to_pylist()[:2] == [{"p": 1, "q": None}, {"p": None, "q": "r"}]


def test_a_type_clash_across_files_names_field_files_and_lines(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    write_jsonl(src / "a.jsonl", [{"id": 1, "text": "x"}, {"id": 2, "text": "y"}])
    write_jsonl(src / "b.jsonl", [{"id": "three", "text": "z"}])
    with pytest.raises(
        CorpusError,
        match=r"field 'id' is int64 in .*a\.jsonl \(lines 1-2\) but "
        r"string in .*b\.jsonl \(lines 1-1\)",
    ):
        stage_corpus(str(src), str(tmp_path / "root"), log=lambda m: None)


def test_chunking_does_not_change_the_staged_rows(tmp_path, monkeypatch):
    """A file read in many small chunks (types differing between chunks) stages to the
    same table as one chunk: the schema does not depend on where chunks fall."""
    import curation.corpus.jsonl as jsonl

    rows = [{"id": f"d{i}", "text": "t" * i, "v": i if i < 50 else i + 0.5} for i in range(100)]
    source = jsonl_dir(tmp_path / "src", rows, "zstd", files=1)
    whole = staged_table(stage_corpus(source, str(tmp_path / "r1"), log=lambda m: None))
    monkeypatch.setattr(jsonl, "CHUNK_BYTES", 256)
    monkeypatch.setattr(jsonl.line_chunks, "__defaults__", (256,))
    small = staged_table(stage_corpus(source, str(tmp_path / "r2"), log=lambda m: None))
    assert small.equals(whole)
    assert whole.schema.field("v").type == pa.float64()


def test_a_damaged_copy_is_named_and_rebuilt(tmp_path):
    source = jsonl_dir(tmp_path / "src", dolma_rows(60), "gzip")
    root = str(tmp_path / "root")
    first = stage_corpus(source, root, log=lambda m: None)
    part = sorted(Path(first.uri).glob("part-*.parquet"))[1]
    part.write_bytes(part.read_bytes()[:100])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = stage_corpus(source, root, log=lambda m: None)
    assert not again.reused and again.uri == first.uri
    assert any(part.name in str(w.message) for w in caught)
    assert staged_table(again).num_rows == 60


def test_a_commit_record_marks_the_copy(tmp_path):
    staged = stage_corpus(jsonl_dir(tmp_path / "s", dolma_rows(9), None), str(tmp_path / "r"))
    record = json.loads((Path(staged.uri) / COMMIT).read_text())
    assert record["rows"] == 9 and record["format"] == "jsonl" and len(record["files"]) == 3


def test_globs_select_files_below_a_prefix(tmp_path):
    src = tmp_path / "src"
    (src / "x").mkdir(parents=True)
    (src / "y").mkdir()
    write_jsonl(src / "x" / "a.json.gz", dolma_rows(3), "gzip")
    write_jsonl(src / "y" / "b.json.gz", dolma_rows(3, start=3), "gzip")
    write_jsonl(src / "y" / "skip.txt", dolma_rows(1))
    sources = corpus_sources(f"{src}/*/*.json.gz")
    assert [Path(f.path).name for f in sources.files] == ["a.json.gz", "b.json.gz"]
    staged = stage_corpus(f"{src}/*/*.json.gz", str(tmp_path / "root"), log=lambda m: None)
    assert read_ids(staged.uri).to_pylist() == [f"doc-{i:05d}" for i in range(6)]


def test_a_saved_hugging_face_dataset_is_staged_with_its_types(tmp_path):
    datasets = pytest.importorskip("datasets")
    rows = dolma_rows(50)
    table = pa.Table.from_pylist(rows).append_column(
        "when", pa.array([1_700_000_000_000 + i for i in range(50)], pa.timestamp("ms"))
    )
    path = tmp_path / "saved"
    datasets.Dataset(table).save_to_disk(str(path), num_shards=2)
    staged = stage_corpus(str(path), str(tmp_path / "root"), log=lambda m: None)
    assert staged.format == "arrow"
    got = staged_table(staged)
    assert got.column("id").to_pylist() == [r["id"] for r in rows]
    assert got.schema.field("when").type == pa.timestamp("ms")
    assert got.column("metadata").to_pylist() == table.column("metadata").to_pylist()


def test_a_saved_dataset_dict_names_its_splits(tmp_path):
    datasets = pytest.importorskip("datasets")
    dd = datasets.DatasetDict({"train": datasets.Dataset.from_list(dolma_rows(4))})
    dd.save_to_disk(str(tmp_path / "dd"))
    with pytest.raises(CorpusError, match=r"DatasetDict .*\['train'\].*dd/train"):
        stage_corpus(str(tmp_path / "dd"), str(tmp_path / "root"))


def test_records_without_ids_get_file_and_row_ids(tmp_path):
    """DCLM-baseline's records carry no id: staging can make ``<file>#<row>``."""
    rows = [{"text": f"t{i}", "url": f"u{i}"} for i in range(7)]
    source = jsonl_dir(tmp_path / "src", rows, "zstd", files=2)
    staged = stage_corpus(source, str(tmp_path / "root"), log=lambda m: None, make_ids="id")
    table = staged_table(staged)
    assert table.column_names == ["id", "text", "url"]
    assert table.column("id").to_pylist() == [f"part-000.jsonl.zst#{i}" for i in range(4)] + [
        f"part-001.jsonl.zst#{i}" for i in range(3)
    ]
    plain = stage_corpus(source, str(tmp_path / "root"), log=lambda m: None)
    assert plain.key != staged.key  # the made ids are part of what the copy holds
    with pytest.raises(StagingError, match=r"already has a column 'url'"):
        stage_corpus(source, str(tmp_path / "r2"), log=lambda m: None, make_ids="url")


def test_a_number_no_float_holds_is_named_by_line(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.jsonl").write_text('{"id": "a", "x": 1}\n{"id": "b", "x": 1e309}\n')
    with pytest.raises(StagingError, match=r"a\.jsonl: line 2 .*1e309 does not fit"):
        stage_corpus(str(src), str(tmp_path / "root"), log=lambda m: None)


def test_an_s3_glob_is_staged_to_s3_and_reused(tmp_path, s3_bucket):
    """Sources on S3 (a glob), the staged copy on S3: committed by its record, reused."""
    from curation.storage import resolve

    rows = dolma_rows(50)
    local = jsonl_dir(tmp_path / "src", rows, "gzip", files=2)
    for path in sorted(Path(local).iterdir()):
        loc = resolve(f"{s3_bucket}/corpus/docs/{path.name}")
        with loc.fs.open_output_stream(loc.path, compression=None) as out:
            out.write(path.read_bytes())
    uri, root = f"{s3_bucket}/corpus/*/*.jsonl.gz", f"{s3_bucket}/work"
    first = stage_corpus(uri, root, log=lambda m: None)
    assert first.uri.startswith(f"{s3_bucket}/work/staging/") and not first.reused
    assert read_ids(first.uri).to_pylist() == [r["id"] for r in rows]
    again = stage_corpus(uri, root, log=lambda m: None)
    assert again.reused and again.key == first.key


def test_a_csv_directory_is_staged_with_every_column_as_text(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.csv").write_text("id,text,n\n007,hello,1\n008,world,2\n")
    (src / "b.csv.gz").write_bytes(gzip.compress(b"id,text,n\n009,again,3\n"))
    table = staged_table(stage_corpus(str(src), str(tmp_path / "root"), log=lambda m: None))
    assert table.column("id").to_pylist() == ["007", "008", "009"]  # never read as numbers
    assert table.schema.field("n").type == pa.string()


def test_two_runs_staging_at_once_agree_on_one_copy(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    source = jsonl_dir(tmp_path / "src", dolma_rows(120), "zstd", files=3)
    root = str(tmp_path / "root")
    with ThreadPoolExecutor(2) as pool:
        a, b = pool.map(lambda _: stage_corpus(source, root, log=lambda m: None), range(2))
    assert a.uri == b.uri
    staging = Path(root) / "staging"
    assert [p.name for p in staging.iterdir() if not p.name.startswith("_")] == [a.key]
    assert staged_table(a).num_rows == 120
