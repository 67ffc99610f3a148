"""Ordered shard writer: round trips, bounded passes, byte determinism, bad input."""

import hashlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curation.shards import (
    CorpusFormatError,
    MemoryCapError,
    MemoryCapWarning,
    RowsError,
    ShardSpec,
    corpus_layout,
    plan_shards,
    write_ordered_shards,
    write_shard,
)

SCHEMA = pa.schema([("id", pa.int64()), ("text", pa.string()), ("lang", pa.string())])


def make_corpus(root: Path, sizes: list[int], row_group_size: int = 9) -> pa.Table:
    """Parquet files of text-like rows, named so that name order = global row order."""
    root.mkdir(parents=True, exist_ok=True)
    tables, start = [], 0
    for i, n in enumerate(sizes):
        ids = np.arange(start, start + n)
        table = pa.table(
            {
                "id": ids,
                "text": [f"document {j} " + "word " * int(j % 13) for j in ids],
                "lang": ["en" if j % 3 else "de" for j in ids],
            },
            schema=SCHEMA,
        )
        pq.write_table(table, root / f"file-{i:03d}.parquet", row_group_size=row_group_size)
        tables.append(table)
        start += n
    return pa.concat_tables(tables)


def read_out(out: Path) -> pa.Table:
    return pa.concat_tables(pq.read_table(p) for p in sorted(out.glob("part-*.parquet")))


@pytest.fixture
def corpus(tmp_path: Path) -> tuple[Path, pa.Table]:
    return tmp_path / "corpus", make_corpus(tmp_path / "corpus", [40, 0, 57, 23])


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 2**32 - 1),
    rows_per_shard=st.integers(1, 60),
    strategy=st.sampled_from(["gather", "bucket", "auto"]),
)
def test_round_trip_random_permutations(corpus, tmp_path_factory, seed, rows_per_shard, strategy):
    path, table = corpus
    rows = np.random.default_rng(seed).permutation(table.num_rows)
    out = tmp_path_factory.mktemp("out")
    infos = write_ordered_shards(
        path,
        rows,
        out,
        rows_per_shard=rows_per_shard,
        strategy=strategy,
        progress=False,
        extra_columns={"_curation_score": rows.astype(np.float64) / 7},
    )
    got = read_out(out)
    assert got.select(SCHEMA.names).equals(table.take(pa.array(rows)))
    assert got.column("_curation_position").to_pylist() == list(range(table.num_rows))
    assert np.allclose(got.column("_curation_score").to_numpy(), rows / 7)
    specs = plan_shards(len(rows), rows_per_shard)
    assert [i.rows for i in infos] == [s.stop - s.start for s in specs]
    assert [i.first_position for i in infos] == list(range(0, len(rows), rows_per_shard))
    assert not list(out.glob(".*tmp*")), "temporary files left behind"


@pytest.mark.parametrize("strategy", ["gather", "bucket"])
def test_tiny_memory_limit_takes_many_passes_same_bytes(corpus, tmp_path, strategy):
    path, table = corpus
    rows = np.random.default_rng(1).permutation(table.num_rows)
    kw = dict(
        rows_per_shard=50, row_group_rows=8, progress=False, strategy=strategy, baseline_bytes=0
    )  # the cap bounds the data alone: a reproducible pass count
    big = write_ordered_shards(path, rows, tmp_path / "big", memory_limit_bytes=1 << 30, **kw)
    with pytest.raises(MemoryCapError) as err:
        write_ordered_shards(path, rows, tmp_path / "tiny", memory_limit_bytes=64, **kw)
    tiny = write_ordered_shards(
        path, rows, tmp_path / "tiny", memory_limit_bytes=err.value.minimum, **kw
    )
    assert max(i.passes for i in big) == 1
    assert max(i.passes for i in tiny) > 1
    assert [i.sha256 for i in tiny] == [i.sha256 for i in big]
    assert read_out(tmp_path / "tiny").select(SCHEMA.names).equals(table.take(pa.array(rows)))


def test_cap_too_small_for_the_writer_is_refused_by_name(corpus, tmp_path):
    path, table = corpus
    rows = np.random.default_rng(3).permutation(table.num_rows)
    with pytest.raises(MemoryCapError) as err:
        write_ordered_shards(
            path, rows, tmp_path / "o", rows_per_shard=30, progress=False, memory_limit_bytes=64
        )
    assert isinstance(err.value, ValueError)
    assert "memory_limit_bytes=64 " in str(err.value)
    assert f"at least {err.value.minimum:,} bytes" in str(err.value)
    assert err.value.minimum > err.value.baseline > 0  # the measured process is counted
    assert not (tmp_path / "o").exists()


def test_process_already_over_the_cap_warns_and_runs_at_minimum(corpus, tmp_path):
    """The measured resident set counts against the cap; when the caller's own memory
    leaves too little, the writer warns and runs in its smallest passes."""
    path, table = corpus
    rows = np.random.default_rng(3).permutation(table.num_rows)
    kw = dict(rows_per_shard=60, row_group_rows=8, progress=False, strategy="bucket")
    cap = 1 << 20  # enough for this corpus alone, far below any Python process
    with pytest.warns(MemoryCapWarning, match=f"memory_limit_bytes={cap:,}"):
        infos = write_ordered_shards(path, rows, tmp_path / "o", memory_limit_bytes=cap, **kw)
    assert max(i.passes for i in infos) > 1
    assert read_out(tmp_path / "o").select(SCHEMA.names).equals(table.take(pa.array(rows)))
    roomy = write_ordered_shards(path, rows, tmp_path / "r", memory_limit_bytes=1 << 40, **kw)
    assert max(i.passes for i in roomy) == 1
    assert [i.sha256 for i in roomy] == [i.sha256 for i in infos]


@pytest.mark.parametrize("strategy", ["gather", "bucket"])
def test_bytes_do_not_depend_on_the_measured_baseline(corpus, tmp_path, strategy):
    """Same output whether the baseline is measured or given: only passes may differ."""
    path, table = corpus
    rows = np.random.default_rng(4).permutation(table.num_rows)
    kw = dict(rows_per_shard=40, progress=False, strategy=strategy, memory_limit_bytes=1 << 30)
    measured = write_ordered_shards(path, rows, tmp_path / "m", **kw)
    given_ = write_ordered_shards(path, rows, tmp_path / "g", baseline_bytes=0, **kw)
    assert [i.sha256 for i in measured] == [i.sha256 for i in given_]


def test_bytes_deterministic_and_equal_across_strategies(corpus, tmp_path):
    path, table = corpus
    rows = np.random.default_rng(2).permutation(table.num_rows)
    runs = [
        write_ordered_shards(
            path, rows, tmp_path / f"o{i}", rows_per_shard=30, strategy=s, progress=False, workers=w
        )
        for i, (s, w) in enumerate([("gather", 1), ("gather", 2), ("bucket", 1), ("bucket", 2)])
    ]
    digests = {tuple(i.sha256 for i in run) for run in runs}
    assert len(digests) == 1
    for info in runs[0]:
        data = Path(info.path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == info.sha256
        assert len(data) == info.bytes


def test_write_shard_is_an_independent_unit(corpus, tmp_path):
    path, table = corpus
    rows = np.arange(table.num_rows)[::-1].copy()
    spec = ShardSpec(index=3, start=10, stop=25)
    info = write_shard(path, rows, spec, tmp_path / "out")
    assert Path(info.path).name == "part-00003.parquet"
    got = pq.read_table(info.path)
    assert got.column("id").to_pylist() == rows[10:25].tolist()
    assert got.column("_curation_position").to_pylist() == list(range(10, 25))


def test_sorted_order_picks_gather(corpus, tmp_path):
    from curation.shards import choose_strategy

    path, table = corpus
    layout = corpus_layout(path)
    ident = np.arange(table.num_rows)
    assert choose_strategy(layout, ident, plan_shards(table.num_rows, 20)) == "gather"
    shuffled = np.random.default_rng(0).permutation(table.num_rows)
    assert choose_strategy(layout, shuffled, plan_shards(table.num_rows, 20)) == "bucket"


@pytest.mark.parametrize(
    ("mutate", "message", "positions"),
    [
        (lambda r: np.r_[r[:5], [-1], r[6:]], "out of range", [5]),
        (lambda r: np.r_[r[:-1], [10**6]], "out of range", [119]),
        (lambda r: np.r_[r[:-2], r[:2]], "duplicate", [118, 119]),
        (lambda r: r[:-3], "missing corpus rows", None),
        (lambda r: r.astype(float), "integers", None),
    ],
)
def test_bad_rows_raise(corpus, tmp_path, mutate, message, positions):
    path, table = corpus
    rows = mutate(np.arange(table.num_rows))
    with pytest.raises(RowsError, match=message) as err:
        write_ordered_shards(path, rows, tmp_path / "o", rows_per_shard=10, progress=False)
    assert isinstance(err.value, ValueError)
    if positions:
        assert str(positions)[1:-1] in str(err.value)
    assert not (tmp_path / "o").exists()


def test_many_bad_rows_names_at_most_ten(corpus, tmp_path):
    path, table = corpus
    rows = np.arange(table.num_rows)
    rows[::2] = -5
    with pytest.raises(RowsError) as err:
        write_ordered_shards(path, rows, tmp_path / "o", rows_per_shard=10, progress=False)
    assert "60 row indices out of range" in str(err.value)
    assert "[0, 2, 4, 6, 8, 10, 12, 14, 16, 18]" in str(err.value)


def test_jsonl_corpus_is_refused(tmp_path):
    (tmp_path / "c.jsonl").write_text('{"id": 1, "text": "a"}\n')
    with pytest.raises(CorpusFormatError, match="convert"):
        write_ordered_shards(tmp_path / "c.jsonl", np.arange(1), tmp_path / "o", rows_per_shard=1)


def test_mixed_schemas_are_refused(tmp_path):
    make_corpus(tmp_path / "c", [5])
    pq.write_table(pa.table({"id": [1], "other": [2.0]}), tmp_path / "c" / "zz.parquet")
    with pytest.raises(CorpusFormatError, match="zz.parquet"):
        corpus_layout(tmp_path / "c")


def test_plan_shards():
    assert plan_shards(7, 3) == [ShardSpec(0, 0, 3), ShardSpec(1, 3, 6), ShardSpec(2, 6, 7)]
    assert plan_shards(0, 3) == []
    with pytest.raises(ValueError):
        plan_shards(5, 0)


def test_s3_corpus_and_output(monkeypatch):
    """Same code on S3 (a real moto server): corpus, spill and shards all on s3://."""
    import boto3
    from moto.server import ThreadedMotoServer

    from curation.storage import resolve

    server = ThreadedMotoServer(port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        for name, value in [
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_ENDPOINT_URL", f"http://{host}:{port}"),
            ("AWS_REGION", "us-east-1"),
        ]:
            monkeypatch.setenv(name, value)
        boto3.client("s3", endpoint_url=f"http://{host}:{port}").create_bucket(Bucket="shards")
        table = pa.table({"id": np.arange(60), "text": [f"t{i}" for i in range(60)]})
        for i in range(2):
            loc = resolve(f"s3://shards/corpus/f{i}.parquet")
            with loc.fs.open_output_stream(loc.path) as f:
                pq.write_table(table.slice(30 * i, 30), f, row_group_size=7)
        rows = np.random.default_rng(5).permutation(60)
        infos = write_ordered_shards(
            "s3://shards/corpus",
            rows,
            "s3://shards/out",
            rows_per_shard=25,
            strategy="bucket",
            spill_uri="s3://shards/spill",
            progress=False,
        )
        assert [i.path for i in infos][0] == "s3://shards/out/part-00000.parquet"
        out = resolve("s3://shards/out")
        got = pq.read_table(out.path, filesystem=out.fs)
        assert got.column("id").to_pylist() == rows.tolist()
    finally:
        server.stop()


@pytest.mark.parametrize("strategy", ["gather", "bucket"])
def test_damaged_corpus_file_is_named(tmp_path, strategy):
    table = make_corpus(tmp_path / "c", [30, 30])
    victim = tmp_path / "c" / "file-001.parquet"
    data = bytearray(victim.read_bytes())
    data[4:200] = bytes(196)  # destroy the first data pages, keep the footer
    victim.write_bytes(bytes(data))
    with pytest.raises(CorpusFormatError, match="file-001.parquet"):
        write_ordered_shards(
            tmp_path / "c",
            np.arange(table.num_rows)[::-1].copy(),
            tmp_path / "o",
            rows_per_shard=20,
            strategy=strategy,
            progress=False,
        )
    victim.write_bytes(b"not parquet")
    with pytest.raises(CorpusFormatError, match="file-001.parquet"):
        corpus_layout(tmp_path / "c")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_subset_of_rows_is_written_alone_the_same_by_both_strategies(corpus, tmp_path, seed):
    """A selection's kept rows: scatter skips the rows (and row groups) it left out, and the
    spilled shards equal the gathered ones, byte for byte."""
    from curation.shards import ShardJob
    from curation.shards.bucket import groups_with_rows, scatter_file, shard_from_spill
    from curation.shards.gather import gather_shard

    path, table = corpus
    rng = np.random.default_rng(seed)
    if seed == 0:  # kept rows only in file 2 (rows 40..96): files 0 and 3 are never read
        rows = rng.permutation(np.arange(45, 90))
    else:
        rows = rng.permutation(table.num_rows)[: table.num_rows // 2]
    job = ShardJob.prepare(path, rows, memory_limit_bytes=256 << 20, positions=True, subset=True)
    specs = plan_shards(rows.size, 17)
    layout = job.layout
    written = sum(
        scatter_file(job, specs, str(tmp_path / "spill"), f) for f in range(len(layout.files))
    )
    assert written == rows.size
    spilled = [
        shard_from_spill(job, s, str(tmp_path / "spill"), str(tmp_path / "a")) for s in specs
    ]
    gathered = [gather_shard(job, s, str(tmp_path / "b")) for s in specs]
    assert [i.sha256 for i in spilled] == [i.sha256 for i in gathered]
    assert read_out(tmp_path / "a").column("id").to_pylist() == rows.tolist()
    if seed == 0:
        for f, expect_any in ((0, False), (2, True), (3, False)):
            groups = np.flatnonzero(layout.rg_file == f)
            kept = groups_with_rows(layout, job.positions, groups)
            assert bool(kept.size) is expect_any
            assert set(kept.tolist()) <= set(groups.tolist())
        # row groups of 9 rows in file 2 (global rows 40..96): 45..89 touch groups 0..5 of it
        file2 = np.flatnonzero(layout.rg_file == 2)
        assert groups_with_rows(layout, job.positions, file2).tolist() == file2[:6].tolist()
