"""The reader keeps the published order across ranks and workers and resumes exactly."""

import multiprocessing
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader

from curation import publish
from curation.reader import ChecksumMismatch, OrderedDataset, _RowSource
from tests.factories import LINEAGE, write_shards

N = 103  # not a multiple of any global batch below: exercises the ragged tail


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> tuple[str, str]:
    """(dataset uri, version) of N rows in 3 shards with 7-row row groups."""
    tmp = tmp_path_factory.mktemp("reader")
    shards = write_shards(str(tmp / "in"), N, shards=3, row_group=7)
    pv = publish.publish_version(str(tmp / "root"), "web", shards, LINEAGE)
    return str(tmp / "root" / "web"), pv.version


def rank_batches(uri, world_size, workers, batch_size, state=None, **kw):
    """Per rank, the list of batches a DataLoader with ``workers`` workers hands out."""
    out = []
    for rank in range(world_size):
        ds = OrderedDataset(uri, rank=rank, world_size=world_size, batch_size=batch_size, **kw)
        if state is not None:
            ds.load_state_dict(state)
        dl = DataLoader(ds, batch_size=None, num_workers=workers)
        out.append([b["_curation_position"].tolist() for b in dl])
    return out


def concat_steps(per_rank: list[list[list[int]]]) -> list[int]:
    """Concatenate what every rank consumed at each step, step after step."""
    steps = {len(r) for r in per_rank}
    assert len(steps) == 1, f"ranks disagree on the number of steps: {steps}"
    return [p for step in zip(*per_rank, strict=True) for batch in step for p in batch]


@pytest.mark.parametrize("world_size", [1, 2, 4])
@pytest.mark.parametrize("workers", [0, 1, 3])
def test_global_order_preserved(published, world_size, workers):
    uri, _ = published
    per_rank = rank_batches(uri, world_size, workers, batch_size=4)
    assert concat_steps(per_rank) == list(range(N))
    full = [b for r in per_rank for b in r[:-1]]
    assert all(len(b) == 4 for b in full)  # every step but the tail is a full batch


@pytest.mark.parametrize("world_size,workers", [(1, 0), (2, 3), (4, 1)])
def test_sample_mode_keeps_order(published, world_size, workers):
    uri, _ = published
    per_rank = []
    for rank in range(world_size):
        ds = OrderedDataset(uri, rank=rank, world_size=world_size)
        per_rank.append(
            [
                [s["_curation_position"]]
                for s in DataLoader(ds, batch_size=None, num_workers=workers)
            ]
        )
    tail = N % world_size  # a sample cannot be empty: ranks past the tail get one fewer
    assert [len(r) for r in per_rank] == [N // world_size + (r < tail) for r in range(world_size)]
    padded = [r + [[]] * (len(per_rank[0]) - len(r)) for r in per_rank]
    assert concat_steps(padded) == list(range(N))
    sample = next(iter(OrderedDataset(uri)))
    assert set(sample) == {"id", "text", "_curation_position", "_curation_score"}
    assert isinstance(sample["text"], str) and sample["text"] == "text of row 0"
    assert type(sample["_curation_position"]) is int and sample["_curation_position"] == 0


def test_samples_match_published_rows(published):
    uri, version = published
    expected = publish.read_manifest(os.path.dirname(uri), "web", version)
    batches = list(OrderedDataset(uri, batch_size=10, columns=["id", "text"]))
    texts = [t for b in batches for t in b["text"].to_pylist()]
    assert texts == [f"text of row {p}" for p in range(N)]
    assert set(batches[0]) == {"id", "text"} and expected["num_rows"] == N


def test_ragged_tail_split_evenly_and_drop_last(published):
    uri, _ = published
    per_rank = rank_batches(uri, 4, 0, batch_size=4)  # 103 = 6*16 + 7
    assert [len(r[-1]) for r in per_rank] == [2, 2, 2, 1]
    dropped = rank_batches(uri, 4, 0, batch_size=4, drop_last=True)
    assert concat_steps(dropped) == list(range(96))


def test_a_tail_smaller_than_the_world_joins_the_step_before(published):
    uri, _ = published
    per_rank = rank_batches(uri, 4, 0, batch_size=34)  # 103 < 136: one step, 25/26 each
    assert concat_steps(per_rank) == list(range(N))
    per_rank = rank_batches(uri, 4, 0, batch_size=5)  # 103 = 5*20 + 3: 3 rows for 4 ranks
    assert {len(r) for r in per_rank} == {5}  # same steps everywhere, none of them empty
    assert min(len(b) for r in per_rank for b in r) == 5
    assert [len(r[-1]) for r in per_rank] == [6, 6, 6, 5]  # the last step took the 3 rows
    assert concat_steps(per_rank) == list(range(N))
    ds = OrderedDataset(uri, rank=3, world_size=4, batch_size=5)
    assert len(ds) == 5
    assert ds.state_dict(steps_done=5) == {**ds.state_dict(0), "epoch": 1, "samples_consumed": 0}


def test_fewer_rows_left_than_ranks_is_refused_not_an_empty_batch(published):
    uri, _ = published
    ds = OrderedDataset(uri, rank=3, world_size=4, batch_size=1)
    ds.load_state_dict({"version": ds.version, "samples_consumed": 101})
    with pytest.raises(ValueError, match="2 row.*left.*4 ranks.*empty batch"):
        list(ds)
    with pytest.raises(ValueError, match="empty batch"):
        list(ds.loader(num_workers=1))
    ds = OrderedDataset(uri, rank=3, world_size=4, batch_size=1, drop_last=True)
    ds.load_state_dict({"version": ds.version, "samples_consumed": 101})
    assert list(ds) == []


def consume(uri, world_size, batch, stop):
    """Run ``world_size`` in-process ranks for ``stop`` steps; (positions seen, state)."""
    ds = [
        OrderedDataset(uri, rank=r, world_size=world_size, batch_size=batch)
        for r in range(world_size)
    ]
    seen, iters = [], [iter(d) for d in ds]
    for _ in range(stop):
        seen += [p for it in iters for p in next(it)["_curation_position"].tolist()]
    state = ds[0].state_dict()
    assert all(d.state_dict() == state for d in ds)
    return seen, state


@settings(max_examples=40, deadline=None)
@given(
    world_size=st.sampled_from([1, 2, 4]),
    batch=st.integers(1, 9),
    stop_fraction=st.floats(0, 1),
    world_after=st.sampled_from([1, 2, 4]),
    batch_after=st.integers(1, 9),
)
def test_resume_after_arbitrary_step(
    published, world_size, batch, stop_fraction, world_after, batch_after
):
    uri, _ = published
    steps = len(OrderedDataset(uri, world_size=world_size, batch_size=batch))
    seen, state = consume(uri, world_size, batch, int(stop_fraction * steps))
    if len(seen) == N:  # a finished pass: the state points at the next epoch's first row
        assert (state["epoch"], state["samples_consumed"]) == (1, 0)
        seen = []
    assert state["samples_consumed"] == len(seen)
    if 0 < N - len(seen) < world_after:  # some rank would get an empty batch: refused
        with pytest.raises(ValueError, match="empty batch"):
            rank_batches(uri, world_after, 0, batch_after, state=state)
        return
    rest = concat_steps(rank_batches(uri, world_after, 0, batch_after, state=state))
    assert seen + rest == list(range(N))


@pytest.mark.parametrize("world_size,workers_after,world_after", [(1, 3, 2), (2, 1, 4), (4, 3, 1)])
def test_resume_with_other_worker_count(published, world_size, workers_after, world_after):
    uri, _ = published
    seen, state = consume(uri, world_size, 3, 5)
    rest = concat_steps(rank_batches(uri, world_after, workers_after, 3, state=state))
    assert seen + rest == list(range(N))


def test_loader_counts_steps_with_workers_and_resumes(published):
    uri, _ = published
    ds = OrderedDataset(uri, batch_size=5)
    loader = ds.loader(num_workers=3)
    seen = []
    for i, batch in enumerate(loader):
        seen += batch["_curation_position"].tolist()
        if i == 6:
            break
    state = loader.state_dict()
    assert state["samples_consumed"] == 35 == len(seen)
    again = OrderedDataset(uri, batch_size=3)
    again.load_state_dict(state)
    assert seen + [
        p for b in again.loader(num_workers=1) for p in b["_curation_position"].tolist()
    ] == list(range(N))
    assert ds.state_dict(steps_done=2)["samples_consumed"] == 10


def test_state_from_another_version_is_refused(published):
    uri, _ = published
    ds = OrderedDataset(uri)
    with pytest.raises(ValueError, match="version"):
        ds.load_state_dict({"version": "0000000000000000", "samples_consumed": 3})
    with pytest.raises(ValueError, match="samples_consumed"):
        ds.load_state_dict({"version": ds.version, "samples_consumed": N + 1})


@settings(max_examples=40, deadline=None)
@given(st.integers(0, N), st.integers(0, N))
def test_row_source_reads_any_range(published, a, b):
    uri, version = published
    lo, hi = min(a, b), max(a, b)
    pv = publish.open_version(os.path.dirname(uri), "web", version)
    src = _RowSource(pv.uri, pv.manifest, ["_curation_position"])
    assert src.read(lo, hi).column("_curation_position").to_pylist() == list(range(lo, hi))
    src.close()


class DecodeCounter:
    """Counts row groups pyarrow decodes, across DataLoader worker processes (forked).

    Wraps the real ``ParquetFile.read_row_group``; the other whole-file read paths fail
    loudly so that a reader could not decode data without being counted."""

    def __init__(self, monkeypatch):
        self.groups = multiprocessing.Value("q", 0)
        self.rows = multiprocessing.Value("q", 0)
        original = pq.ParquetFile.read_row_group

        def counted(pf, i, *args, **kwargs):
            table = original(pf, i, *args, **kwargs)
            with self.groups.get_lock():
                self.groups.value += 1
                self.rows.value += table.num_rows
            return table

        def uncounted(*args, **kwargs):
            raise AssertionError("decoded outside read_row_group: not counted")

        monkeypatch.setattr(pq.ParquetFile, "read_row_group", counted)
        for name in ("read", "read_row_groups", "iter_batches"):
            monkeypatch.setattr(pq.ParquetFile, name, uncounted)


@pytest.fixture(scope="module")
def small_groups(tmp_path_factory) -> str:
    """960 rows in 3 shards of 10-row row groups (96 groups): batches span several groups."""
    tmp = tmp_path_factory.mktemp("groups")
    shards = write_shards(str(tmp / "in"), 960, shards=3, row_group=10)
    publish.publish_version(str(tmp / "root"), "web", shards, LINEAGE)
    return str(tmp / "root" / "web")


@pytest.mark.parametrize("batch_size", [15, 40])
@pytest.mark.parametrize("workers", [0, 2])
def test_rank_decodes_only_its_share_of_row_groups(small_groups, monkeypatch, batch_size, workers):
    counter = DecodeCounter(monkeypatch)
    world_size, rows, group = 4, 960, 10
    for rank in range(world_size):
        counter.groups.value = counter.rows.value = 0
        ds = OrderedDataset(
            small_groups,
            rank=rank,
            world_size=world_size,
            batch_size=batch_size,
            columns=["_curation_position"],
        )
        lo, hi = ds.rank_ranges(np.arange(ds.num_steps()))
        dl = DataLoader(
            ds,
            batch_size=None,
            num_workers=workers,
            multiprocessing_context="fork" if workers else None,
        )
        got = [p for b in dl for p in b["_curation_position"].tolist()]
        assert got == [p for a, b in zip(lo, hi, strict=True) for p in range(a, b)]
        share = -(-len(got) // group)  # groups holding exactly our rows, if aligned
        boundary = len(lo) + workers  # one extra per range, one re-read per worker block
        assert share <= counter.groups.value <= share + boundary
        assert counter.groups.value < rows // group  # not every group, as before
        assert counter.rows.value <= len(got) + boundary * group


def test_single_rank_decodes_each_group_once(small_groups, monkeypatch):
    counter = DecodeCounter(monkeypatch)
    assert (
        sum(len(b["_curation_position"]) for b in OrderedDataset(small_groups, batch_size=7)) == 960
    )
    assert counter.groups.value == 96


def test_checksum_verification_on_open(tmp_path):
    shards = write_shards(str(tmp_path / "in"), 30, shards=2)
    pv = publish.publish_version(str(tmp_path / "root"), "web", shards, LINEAGE)
    uri = str(tmp_path / "root" / "web")
    OrderedDataset(uri, verify=True)
    part = os.path.join(pv.uri, "part-00001.parquet")
    data = bytearray(open(part, "rb").read())
    data[40] ^= 1
    open(part, "wb").write(bytes(data))
    with pytest.raises(ChecksumMismatch, match="part-00001"):
        OrderedDataset(uri, verify=True)
    with pytest.raises(ChecksumMismatch, match="part-00001"):
        OrderedDataset(uri, rank=1, world_size=2, verify=True)  # the rank that hashes it
    rank0 = OrderedDataset(uri, rank=0, world_size=2, verify=True)  # hashes part-00000 only
    with pytest.raises(ChecksumMismatch, match="part-00001"):
        rank0.verify_checksums(all_shards=True)
    OrderedDataset(uri)  # without verification opening stays cheap


def test_ranks_split_checksum_work(tmp_path, monkeypatch):
    shards = write_shards(str(tmp_path / "in"), 60, shards=6)
    publish.publish_version(str(tmp_path / "root"), "web", shards, LINEAGE)
    hashed, original = [], publish.sha256_of
    monkeypatch.setattr(publish, "sha256_of", lambda loc: hashed.append(loc.uri) or original(loc))
    per_rank = []
    for rank in range(4):
        before = len(hashed)
        OrderedDataset(str(tmp_path / "root" / "web"), rank=rank, world_size=4, verify=True)
        per_rank.append(len(hashed) - before)
    assert per_rank == [2, 2, 1, 1]
    assert sorted(os.path.basename(u) for u in hashed) == [
        f"part-{i:05d}.parquet" for i in range(6)
    ]


def test_version_pinning_and_version_dir_uri(published):
    uri, version = published
    by_dir = OrderedDataset(os.path.join(uri, version), batch_size=200)
    assert by_dir.version == version
    assert next(iter(by_dir))["_curation_position"].tolist() == list(range(N))
    with pytest.raises(publish.NotPublished):
        OrderedDataset(uri, version="ffffffffffffffff")


def test_s3_streaming_read(s3_bucket):
    root = f"{s3_bucket}/pub"
    shards = write_shards(f"{s3_bucket}/in", 60, shards=3, row_group=8)
    publish.publish_version(root, "web", shards, LINEAGE)
    per_rank = rank_batches(f"{root}/web", 2, 1, batch_size=4, verify=True)
    assert concat_steps(per_rank) == list(range(60))


def test_hugging_face_recipe_keeps_order(published):
    datasets = pytest.importorskip("datasets")
    uri, version = published
    files = OrderedDataset(uri, version=version).shard_uris
    hf = datasets.load_dataset(
        "parquet",
        data_files={"train": files},
        split="train",
        cache_dir=os.path.join(os.path.dirname(uri), "hf-cache"),
    )
    assert hf["_curation_position"] == list(range(N))
    streamed = datasets.load_dataset(
        "parquet", data_files={"train": files}, split="train", streaming=True
    )
    assert [r["_curation_position"] for r in streamed] == list(range(N))


def test_plain_dataloader_recipe(published):
    uri, _ = published
    ds = OrderedDataset(uri, batch_size=8, columns=["text", "_curation_position"])
    positions = []
    for batch in DataLoader(ds, batch_size=None, num_workers=2):
        assert isinstance(batch["text"], pa.Array) and isinstance(
            batch["_curation_position"], torch.Tensor
        )
        assert batch["text"].to_pylist() == [
            f"text of row {p}" for p in batch["_curation_position"]
        ]
        positions += batch["_curation_position"].tolist()
    assert positions == list(range(N))
    as_lists = OrderedDataset(uri, batch_size=8, columns=["text"], strings="list")
    assert next(iter(as_lists))["text"] == [f"text of row {p}" for p in range(8)]
