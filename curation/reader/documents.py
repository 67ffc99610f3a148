"""Order-preserving, resumable reader of a published version for torch training jobs.

Ordinary loaders break a published order (shuffling, per-worker interleaving, per-rank
sharding). This reader assigns global positions to ranks and workers explicitly:

* a global batch of ``B = world_size * batch_size`` rows starts at ``g = s0 + k*B`` (step k,
  ``s0`` = resume position) and holds ``m = min(B, n - g)`` rows; rank r gets the r-th of
  ``world_size`` contiguous pieces, ``m // world_size`` rows each plus one for the first
  ``m % world_size`` ranks: exactly ``batch_size`` rows while full, an even split of the
  ragged tail (in batch mode every rank has the same number of steps; a tail of fewer rows
  than ranks joins the step before it, so no rank ever gets an empty batch);
* DataLoader worker w of W produces the steps with ``k % W == w``; the DataLoader's in-order
  round robin over workers then hands them out in step order.

So concatenating what all ranks consume at each step is the published order. See
docs/reader.md for recipes.
"""

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from curation import publish
from curation.reader.rows import (
    RowSource,
    checked_columns,
    from_tensor,
    iter_items,
    job_rank,
    open_job_version,
    to_tensor,
)

_BLOCK_ROWS = 1 << 14  # rows decoded per read block: bounds memory independently of data size


class ChecksumMismatch(ValueError):
    """A shard's bytes differ from the sha256 its manifest recorded."""


class OrderedDataset(IterableDataset):
    """Yields a published version in its global order, split by rank and DataLoader worker.

    ``batch_size`` (per rank) set: each item is one step's batch for this rank, a dict of
    column → numpy array (numbers) or, for strings, a compact ``pyarrow`` array
    (``strings="arrow"``, default: cheap to hand from DataLoader workers) or a list
    (``strings="list"``); use ``DataLoader(ds, batch_size=None)`` or :meth:`loader`.
    ``batch_size=None``: items are single samples (dicts of Python values), with the same
    contract at batch size 1 (rank r gets global positions ``p % world_size == r``).
    ``verify=True`` hashes this rank's part of the shards at open (see :meth:`verify_checksums`).
    """

    def __init__(
        self,
        uri: str,
        version: str = "latest",
        rank: int | None = None,
        world_size: int | None = None,
        *,
        batch_size: int | None = None,
        drop_last: bool = False,
        columns: list[str] | None = None,
        strings: str = "arrow",
        verify: bool = False,
    ):
        rank, world_size = job_rank(rank, world_size)
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch_size must be >= 1 or None, got {batch_size}")
        if strings not in ("arrow", "list"):
            raise ValueError(f"strings must be 'arrow' or 'list', got {strings!r}")
        pv = open_job_version(uri, version, world_size)
        self.dataset, self.version, self.uri = pv.dataset, pv.version, pv.uri
        self.manifest = pv.manifest
        self.num_rows = int(pv.manifest["num_rows"])
        self.rank, self.world_size = rank, world_size
        self.batch_size, self.drop_last = batch_size, drop_last
        self.columns, self.strings = checked_columns(pv.manifest, columns), strings
        self.epoch = 0
        self._start = 0
        self._steps = 0
        if verify:
            self.verify_checksums()

    # -------------------------------------------------------------- plan

    @property
    def global_batch_size(self) -> int:
        return self.world_size * (self.batch_size or 1)

    @property
    def shard_uris(self) -> list[str]:
        pv = publish.PublishedVersion(self.dataset, self.version, self.uri, self.manifest)
        return pv.shard_uris

    def num_steps(self) -> int:
        """Steps left from the resume position; equal on every rank."""
        steps, _ = self._schedule()
        return steps

    def _schedule(self) -> tuple[int, bool]:
        """(steps left, whether the last step also takes a tail smaller than the world).

        In batch mode no rank ever gets an empty batch: a ragged tail of fewer rows than
        ranks joins the step before it (that step's ranks get ``batch_size`` or one more
        row), so nothing is dropped and every rank still runs the same number of steps.
        """
        left, per = self.num_rows - self._start, self.global_batch_size
        full, rest = divmod(left, per)
        if self.drop_last:
            return full, False
        if self.batch_size is not None and 0 < rest < self.world_size and full:
            return full, True
        return full + (rest > 0), False

    def _check_rows_for_every_rank(self) -> None:
        left = self.num_rows - self._start
        if self.batch_size is not None and not self.drop_last and 0 < left < self.world_size:
            raise ValueError(
                f"{left} row(s) left of {self.dataset} {self.version} for {self.world_size} "
                "ranks: a rank would get an empty batch (a NaN loss); resume with at most "
                f"{left} rank(s), or pass drop_last=True"
            )

    def __len__(self) -> int:
        """Items this rank yields: steps in batch mode; in sample mode the steps whose
        ragged tail still holds a row for this rank."""
        steps = self.num_steps()
        if self.batch_size is not None or not steps:
            return steps
        lo, hi = self.rank_ranges(np.array([steps - 1]))
        return steps - int(hi[0] == lo[0])

    def rank_ranges(self, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """This rank's [lo, hi) global row range for each step (the documented contract)."""
        per = self.global_batch_size
        starts = self._start + steps.astype(np.int64) * per
        m = np.minimum(per, self.num_rows - starts)
        total, joined = self._schedule()
        if joined:  # the last step also holds the small tail
            m = np.where(steps == total - 1, self.num_rows - starts, m)
        q, extra = m // self.world_size, m % self.world_size
        lo = starts + self.rank * q + np.minimum(self.rank, extra)
        return lo, lo + q + (self.rank < extra)

    # -------------------------------------------------------------- iteration

    def __iter__(self) -> Iterator[dict]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        in_process = info is None
        if in_process:
            self._steps = 0
        self._check_rows_for_every_rank()
        steps = np.arange(worker, self.num_steps(), workers, dtype=np.int64)
        per_block = self._steps_per_block()
        source = RowSource(self.uri, self.manifest, self.columns)
        try:
            for i in range(0, len(steps), per_block):
                for item in self._block(source, steps[i : i + per_block]):
                    if in_process:
                        self._steps += 1
                    yield item
            if in_process:  # reached only when the pass ran to its end
                self.end_epoch()
        finally:
            source.close()

    def _steps_per_block(self) -> int:
        return max(1, _BLOCK_ROWS // (self.batch_size or 1))  # ~16k of our rows per block

    def end_epoch(self) -> None:
        """A full pass is done: the next one starts at row 0 (whatever the resume row was)."""
        self.epoch, self._start, self._steps = self.epoch + 1, 0, 0

    def _block(self, source: RowSource, steps: np.ndarray) -> Iterator[dict]:
        """Read this rank's rows for a block of steps in one pass, then cut them into batches."""
        lo, hi = self.rank_ranges(steps)
        yield from self.cut(source.read_ranges(lo, hi), hi - lo, compact=True)

    def cut(self, cover: pa.Table, lengths: np.ndarray, compact: bool) -> Iterator[dict]:
        """Items (batches, or samples) from consecutive rows and each step's row count;
        ``compact`` copies strings so that pickling an item ships only its own bytes."""
        if self.batch_size is None:
            cols = cover.to_pydict()
            names = list(cols)
            for values in zip(*(cols[c] for c in names), strict=True):
                yield dict(zip(names, values, strict=True))
            return
        yield from iter_items(cover, lengths, self.strings, compact)

    def step_groups(self) -> "StepGroups":
        """What :meth:`loader` hands to DataLoader workers: ~16k rows of steps per item."""
        return StepGroups(self)

    def loader(self, num_workers: int = 0, **kwargs) -> "OrderedLoader":
        """A DataLoader that keeps the order and counts consumed steps for :meth:`state_dict`."""
        return OrderedLoader(self, num_workers=num_workers, **kwargs)

    # -------------------------------------------------------------- resume

    def state_dict(self, steps_done: int | None = None) -> dict:
        """Where the job stands: epoch and global sample count (independent of ranks and
        workers).

        ``steps_done``: steps consumed since the start/last resume; default: what this
        object yielded in-process or through :meth:`loader`. Plain DataLoaders with workers
        iterate copies, so pass ``steps_done`` there.
        """
        steps = self._steps if steps_done is None else steps_done
        consumed = min(self.num_rows, self._start + steps * self.global_batch_size)
        if steps and steps >= self.num_steps():  # the last step may also hold a small tail
            consumed = self.num_rows
        epoch = self.epoch
        if consumed == self.num_rows:  # a finished pass: the next one starts at row 0
            epoch, consumed = epoch + 1, 0
        return {
            "dataset": self.dataset,
            "version": self.version,
            "epoch": epoch,
            "samples_consumed": consumed,
        }

    def load_state_dict(self, state: dict) -> None:
        """Resume exactly at ``samples_consumed`` of ``epoch``; refuses another version."""
        if state.get("version") != self.version:
            raise ValueError(
                f"state is for version {state.get('version')!r}, this reader has {self.version!r}"
            )
        consumed = int(state["samples_consumed"])
        if not 0 <= consumed <= self.num_rows:
            raise ValueError(f"samples_consumed={consumed} outside [0, {self.num_rows}]")
        self._start, self._steps = consumed, 0
        self.epoch = int(state.get("epoch", 0))

    # -------------------------------------------------------------- integrity

    def verify_checksums(self, all_shards: bool = False) -> None:
        """Hash shards against the manifest; raise naming the corrupted (or missing) ones.

        Every rank reads rows from every shard, so checking "the shards this rank reads"
        would still hash the whole version on each rank. Instead rank r hashes the shards
        ``i % world_size == r``: the job hashes each shard once, spread evenly, and a bad
        shard stops the job from the rank that found it. ``all_shards=True`` hashes every
        shard here (node-local copies, or a standalone check).
        """
        n = len(self.manifest["shards"])
        mine = None if all_shards else range(self.rank, n, self.world_size)
        problems = publish.verify_opened(self.uri, self.manifest, hash_shards=mine)
        if problems:
            raise ChecksumMismatch(f"{len(problems)} problem(s) in {self.uri}: {problems[:10]}")


class StepGroups(IterableDataset):
    """Worker w of W reads the groups of consecutive steps ``g % W == w`` (~16k rows each)
    and hands each over as one Arrow IPC stream in a uint8 tensor plus the steps' row
    counts: one message per group, not per batch, and its bytes travel in shared memory
    (the DataLoader moves tensors there) instead of being pickled through a pipe; the main
    process maps the table without a copy and cuts the batches."""

    def __init__(self, dataset: OrderedDataset):
        self.dataset = dataset

    def __iter__(self) -> Iterator[dict]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        ds = self.dataset
        per, total = ds._steps_per_block(), ds.num_steps()
        source = RowSource(ds.uri, ds.manifest, ds.columns)
        try:
            for first in range(worker * per, total, workers * per):
                lo, hi = ds.rank_ranges(np.arange(first, min(first + per, total)))
                table = source.read_ranges(lo, hi)
                tensor = to_tensor(table, shared=info is not None)
                yield {"table": tensor, "lengths": torch.from_numpy(hi - lo)}
        finally:
            source.close()


class OrderedLoader:
    """A DataLoader over an OrderedDataset that keeps the order and counts consumed steps.

    With workers it moves whole groups of steps between processes (:class:`StepGroups`)
    and cuts batches here, which is much cheaper than one message per batch."""

    def __init__(self, dataset: OrderedDataset, num_workers: int = 0, **kwargs):
        kwargs.setdefault("in_order", True)
        if not kwargs["in_order"]:
            raise ValueError("in_order=False would break the published order")
        self.dataset = dataset
        self.num_workers = num_workers
        source = dataset.step_groups() if num_workers else dataset
        self._dl = DataLoader(source, batch_size=None, num_workers=num_workers, **kwargs)

    @property
    def epoch(self) -> int:
        return self.dataset.epoch

    def __len__(self) -> int:
        return len(self.dataset)

    def __iter__(self) -> Iterator:
        if self.num_workers == 0:
            yield from self._dl  # the dataset counts its own steps in-process
            return
        ds = self.dataset
        ds._check_rows_for_every_rank()
        ds._steps = 0
        for group in self._dl:
            lengths = group["lengths"].numpy()
            for item in ds.cut(from_tensor(group["table"]), lengths, compact=False):
                ds._steps += 1
                yield item
        ds.end_epoch()  # reached only when the pass ran to its end

    def state_dict(self) -> dict:
        return self.dataset.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.dataset.load_state_dict(state)
