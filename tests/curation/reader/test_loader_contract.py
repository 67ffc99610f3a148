"""Reader contract details trainers depend on: len(), epochs, versions, IPC, warnings."""

import pickle
import warnings

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from torch.utils.data import DataLoader

from curation import publish
from curation.reader import OrderedDataset
from curation.reader.rows import from_tensor, to_tensor
from tests.factories import LINEAGE, write_shards

N = 103


@pytest.fixture(scope="module")
def uri(tmp_path_factory) -> str:
    tmp = tmp_path_factory.mktemp("fixes")
    shards = write_shards(str(tmp / "in"), N, shards=3, row_group=7)
    publish.publish_version(str(tmp / "root"), "web", shards, LINEAGE)
    return str(tmp / "root" / "web")


@pytest.mark.parametrize("world_size", [1, 2, 3, 4, 6])
@pytest.mark.parametrize("start", [0, 5, 101])
def test_sample_mode_len_equals_what_each_rank_yields(uri, world_size, start):
    for rank in range(world_size):
        ds = OrderedDataset(uri, rank=rank, world_size=world_size)
        ds.load_state_dict({"version": ds.version, "samples_consumed": start})
        assert len(ds) == len(list(ds)), (rank, world_size, start)


@pytest.mark.parametrize("workers", [0, 2])
def test_resumed_loader_next_epoch_starts_at_row_zero(uri, workers):
    ds = OrderedDataset(uri, batch_size=10)
    ds.load_state_dict({"version": ds.version, "samples_consumed": 40})
    loader = ds.loader(num_workers=workers)
    first = [p for b in loader for p in b["_curation_position"].tolist()]
    assert first == list(range(40, N))
    assert loader.state_dict()["epoch"] == 1 and loader.state_dict()["samples_consumed"] == 0
    second = [p for b in loader for p in b["_curation_position"].tolist()]
    assert second == list(range(N))
    again = OrderedDataset(uri, batch_size=10)
    again.load_state_dict(loader.state_dict())
    assert again.epoch == 2 and next(iter(again))["_curation_position"].tolist() == list(range(10))


def test_state_without_epoch_still_loads(uri):
    ds = OrderedDataset(uri, batch_size=4)
    ds.load_state_dict({"version": ds.version, "samples_consumed": 8})
    assert ds.epoch == 0 and next(iter(ds))["_curation_position"].tolist() == [8, 9, 10, 11]


def test_no_read_only_buffer_warning_with_workers(uri):
    ds = OrderedDataset(uri, batch_size=8)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*not writable.*")
        warnings.filterwarnings("error", message=".*non-writable.*")
        for batch in DataLoader(ds, batch_size=None, num_workers=0):
            batch["_curation_position"] += 0  # writable tensors


def test_workers_hand_compact_arrow_batches(uri):
    """A batch pickles to about its own bytes, not to the whole decoded row group's."""
    ds = OrderedDataset(uri, batch_size=2, columns=["text"])
    batch = next(iter(ds))
    text_bytes = sum(len(t.encode()) for t in batch["text"].to_pylist())
    assert len(pickle.dumps(batch["text"])) < 600 + 4 * text_bytes
    assert batch["text"].to_pylist() == ["text of row 0", "text of row 1"]


@pytest.mark.parametrize("batch_size", [None, 3])
def test_loader_moves_groups_of_steps_between_processes(uri, batch_size):
    """One message per ~16k rows: the rows' table as one tensor (shared memory between
    processes, about the table's own bytes) and the steps' row counts."""
    ds = OrderedDataset(uri, rank=1, world_size=2, batch_size=batch_size)
    groups = list(ds.step_groups())
    assert len(groups) == 1 and groups[0]["lengths"].tolist() == [
        int(h - lo) for lo, h in zip(*ds.rank_ranges(np.arange(ds.num_steps())), strict=True)
    ]
    tensor = groups[0]["table"]
    assert isinstance(tensor, torch.Tensor) and tensor.dtype == torch.uint8
    table = from_tensor(tensor)
    assert tensor.numel() < 2 * table.nbytes + 2000
    direct = [
        b["_curation_position"] if batch_size is None else b["_curation_position"].tolist()
        for b in ds
    ]
    via = [
        b["_curation_position"] if batch_size is None else b["_curation_position"].tolist()
        for b in ds.loader(2)
    ]
    assert via == direct and len(via) == len(ds)


def test_worker_tables_are_written_into_shared_memory(uri):
    """In a worker the stream is written into shared memory (prefaulted), so the DataLoader
    sends it without copying every byte once more; the table reads back unchanged."""
    source = pq.read_table(OrderedDataset(uri).shard_uris[0])
    shared, private = to_tensor(source, shared=True), to_tensor(source)
    assert shared.is_shared() and not private.is_shared()
    assert from_tensor(shared).equals(source) and from_tensor(private).equals(source)
