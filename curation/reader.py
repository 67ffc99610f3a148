"""Order-preserving, resumable reader of a published version for torch training jobs.

Ordinary loaders break a published order (shuffling, per-worker interleaving, per-rank
sharding). This reader assigns global positions to ranks and workers explicitly:

* a global batch of ``B = world_size * batch_size`` rows starts at ``g = s0 + k*B`` (step k,
  ``s0`` = resume position) and holds ``m = min(B, n - g)`` rows; rank r gets the r-th of
  ``world_size`` contiguous pieces, ``m // world_size`` rows each plus one for the first
  ``m % world_size`` ranks: exactly ``batch_size`` rows while full, an even split of the
  ragged tail (in batch mode every rank has the same number of steps);
* DataLoader worker w of W produces the steps with ``k % W == w``; the DataLoader's in-order
  round robin over workers then hands them out in step order.

So concatenating what all ranks consume at each step is the published order. See
docs/reader.md for recipes.
"""

import math
import posixpath
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from curation import publish, storage

_BLOCK_ROWS = 1 << 14  # rows decoded per read block: bounds memory independently of data size


class ChecksumMismatch(ValueError):
    """A shard's bytes differ from the sha256 its manifest recorded."""


def split_dataset_uri(uri: str) -> tuple[str, str, str | None]:
    """``<root>/<dataset>`` or ``<root>/<dataset>/<version>`` → (root, dataset, version or None)."""
    loc = storage.resolve(uri)
    if storage.exists(loc.join(publish.MANIFEST)):
        dataset_path, version = posixpath.split(loc.path)
    else:
        dataset_path, version = loc.path, None
    root_path, dataset = posixpath.split(dataset_path)
    root = f"s3://{root_path}" if loc.is_s3 else root_path
    return root, dataset, version


class _RowSource:
    """Reads global row ranges through parquet row groups, keeping one decoded group cached."""

    def __init__(self, version_uri: str, manifest: dict, columns: list[str] | None):
        self._dir = storage.resolve(version_uri)
        self._columns = columns
        sizes, owners = [], []
        for i, shard in enumerate(manifest["shards"]):
            groups = shard.get("row_groups") or [shard["rows"]]
            sizes += groups
            owners += [(i, j) for j in range(len(groups))]
        self._names = [s["name"] for s in manifest["shards"]]
        self._owners = owners
        self._starts = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)])
        self._file = None
        self._pf = None
        self._file_idx = -1
        self._cached = (-1, None)

    def _parquet(self, shard_idx: int) -> pq.ParquetFile:
        if shard_idx != self._file_idx:
            self.close()
            loc = self._dir.join(self._names[shard_idx])
            self._file = loc.fs.open_input_file(loc.path)
            self._pf = pq.ParquetFile(self._file)
            self._file_idx = shard_idx
        return self._pf

    def _group(self, g: int) -> pa.Table:
        if self._cached[0] != g:
            shard_idx, local = self._owners[g]
            table = self._parquet(shard_idx).read_row_group(local, columns=self._columns)
            self._cached = (g, table)
        return self._cached[1]

    def read(self, lo: int, hi: int) -> pa.Table:
        """Rows [lo, hi) in global order."""
        return self.read_ranges(np.array([lo], dtype=np.int64), np.array([hi], dtype=np.int64))

    def read_ranges(self, lo: np.ndarray, hi: np.ndarray) -> pa.Table:
        """Rows of the ascending, disjoint ranges [lo_i, hi_i), concatenated.

        Decodes only the row groups the ranges overlap (never the groups in the gaps, which
        hold other ranks' and workers' rows), each at most once, and keeps only our rows.
        """
        keep = hi > lo
        lo, hi = lo[keep].astype(np.int64), hi[keep].astype(np.int64)
        if not len(lo):
            return self.empty()
        groups, starts, stops = self._pieces(lo, hi)
        tables = []
        for g in np.unique(groups).tolist():
            mine = groups == g
            tables.append(self._take(g, starts[mine], stops[mine]))
        return pa.concat_tables(tables) if len(tables) > 1 else tables[0]

    def _pieces(self, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, ...]:
        """Split ranges at row-group borders: (group, local start, local stop) per piece."""
        first = np.searchsorted(self._starts, lo, side="right") - 1
        last = np.searchsorted(self._starts, hi - 1, side="right") - 1
        counts = last - first + 1
        which = np.repeat(np.arange(len(lo)), counts)
        within = np.arange(len(which)) - np.repeat(np.cumsum(counts) - counts, counts)
        groups = first[which] + within
        g_lo = self._starts[groups]
        starts = np.maximum(lo[which], g_lo) - g_lo
        stops = np.minimum(hi[which], self._starts[groups + 1]) - g_lo
        return groups, starts, stops

    def _take(self, g: int, starts: np.ndarray, stops: np.ndarray) -> pa.Table:
        """Our rows of group ``g``: a zero-copy slice when contiguous, else one compacting take
        (so the decoded group can be freed as soon as the next one is read)."""
        table = self._group(g)
        lengths = stops - starts
        if len(starts) == 1 or np.array_equal(starts[1:], stops[:-1]):
            return table.slice(int(starts[0]), int(stops[-1] - starts[0]))
        offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
        return table.take(pa.array(np.arange(int(lengths.sum()), dtype=np.int64) + offsets))

    def empty(self) -> pa.Table:
        """A zero-row table with the projected schema (a rank's empty tail batch)."""
        table = self._parquet(0).schema_arrow.empty_table()
        return table.select(self._columns) if self._columns else table

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        self._file, self._file_idx, self._cached = None, -1, (-1, None)


def _to_python(table: pa.Table, numbers_as_numpy: bool = True) -> dict:
    """Strings/binary become Python lists; numbers numpy arrays (a DataLoader makes tensors)."""
    out = {}
    for name, col in zip(table.column_names, table.columns, strict=True):
        numeric = pa.types.is_integer(col.type) or pa.types.is_floating(col.type)
        if numbers_as_numpy and numeric:
            out[name] = col.to_numpy()
        else:
            out[name] = col.to_pylist()
    return out


class OrderedDataset(IterableDataset):
    """Yields a published version in its global order, split by rank and DataLoader worker.

    ``batch_size`` (per rank) set: each item is one step's batch for this rank, a dict of
    column → list (strings) or numpy array (numbers); use ``DataLoader(ds, batch_size=None)``
    or :meth:`loader`. ``batch_size=None``: items are single samples (dicts), with the same
    contract at batch size 1 (rank r gets global positions ``p % world_size == r``).
    ``verify=True`` hashes this rank's part of the shards at open (see :meth:`verify_checksums`).
    """

    def __init__(
        self,
        uri: str,
        version: str = "latest",
        rank: int = 0,
        world_size: int = 1,
        *,
        batch_size: int | None = None,
        drop_last: bool = False,
        columns: list[str] | None = None,
        verify: bool = False,
    ):
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"need 0 <= rank < world_size, got {rank=} {world_size=}")
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch_size must be >= 1 or None, got {batch_size}")
        root, dataset, pinned = split_dataset_uri(uri)
        if pinned is not None and version not in ("latest", pinned):
            raise ValueError(f"{uri} is version {pinned}, but version={version!r} was asked for")
        pv = publish.open_version(root, dataset, pinned or version)
        self.dataset, self.version, self.uri = dataset, pv.version, pv.uri
        self.manifest = pv.manifest
        self.num_rows = int(pv.manifest["num_rows"])
        self.rank, self.world_size = rank, world_size
        self.batch_size, self.drop_last = batch_size, drop_last
        self.columns = columns
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
        left = self.num_rows - self._start
        per = self.global_batch_size
        return left // per if self.drop_last else math.ceil(left / per)

    def __len__(self) -> int:
        return self.num_steps()

    def rank_ranges(self, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """This rank's [lo, hi) global row range for each step (the documented contract)."""
        per = self.global_batch_size
        starts = self._start + steps.astype(np.int64) * per
        m = np.minimum(per, self.num_rows - starts)
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
        steps = np.arange(worker, self.num_steps(), workers, dtype=np.int64)
        per_block = max(1, _BLOCK_ROWS // (self.batch_size or 1))  # ~16k of our rows per block
        source = _RowSource(self.uri, self.manifest, self.columns)
        try:
            for i in range(0, len(steps), per_block):
                for item in self._block(source, steps[i : i + per_block]):
                    if in_process:
                        self._steps += 1
                    yield item
        finally:
            source.close()

    def _block(self, source: _RowSource, steps: np.ndarray) -> Iterator[dict]:
        """Read this rank's rows for a block of steps in one pass, then cut them into batches."""
        lo, hi = self.rank_ranges(steps)
        lengths = hi - lo
        cover = source.read_ranges(lo, hi)
        cols = _to_python(cover, numbers_as_numpy=self.batch_size is not None)
        bounds = np.concatenate([[0], np.cumsum(lengths)])
        if self.batch_size is None:
            names = list(cols)
            for values in zip(*(cols[c] for c in names), strict=True):
                yield dict(zip(names, values, strict=True))
            return
        for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            yield {c: v[a:b] for c, v in cols.items()}

    def loader(self, num_workers: int = 0, **kwargs) -> "OrderedLoader":
        """A DataLoader that keeps the order and counts consumed steps for :meth:`state_dict`."""
        return OrderedLoader(self, num_workers=num_workers, **kwargs)

    # -------------------------------------------------------------- resume

    def state_dict(self, steps_done: int | None = None) -> dict:
        """Where the job stands, as a global sample count (independent of ranks and workers).

        ``steps_done``: steps consumed since the start/last resume; default: what this
        object yielded in-process or through :meth:`loader`. Plain DataLoaders with workers
        iterate copies, so pass ``steps_done`` there.
        """
        steps = self._steps if steps_done is None else steps_done
        consumed = min(self.num_rows, self._start + steps * self.global_batch_size)
        return {"dataset": self.dataset, "version": self.version, "samples_consumed": consumed}

    def load_state_dict(self, state: dict) -> None:
        """Resume exactly at ``samples_consumed``; refuses a state from another version."""
        if state.get("version") != self.version:
            raise ValueError(
                f"state is for version {state.get('version')!r}, this reader has {self.version!r}"
            )
        consumed = int(state["samples_consumed"])
        if not 0 <= consumed <= self.num_rows:
            raise ValueError(f"samples_consumed={consumed} outside [0, {self.num_rows}]")
        self._start, self._steps = consumed, 0

    # -------------------------------------------------------------- integrity

    def verify_checksums(self, all_shards: bool = False) -> None:
        """Hash shards against the manifest; raise naming the corrupted (or missing) ones.

        Every rank reads rows from every shard, so checking "the shards this rank reads"
        would still hash the whole version on each rank. Instead rank r hashes the shards
        ``i % world_size == r``: the job hashes each shard once, spread evenly, and a bad
        shard stops the job from the rank that found it. ``all_shards=True`` hashes every
        shard here (node-local copies, or a standalone check).
        """
        vdir = storage.resolve(self.uri)
        shards = self.manifest["shards"]
        if not all_shards:
            shards = shards[self.rank :: self.world_size]
        bad = []
        for shard in shards:
            loc = vdir.join(shard["name"])
            digest = publish.sha256_of(loc)[0] if storage.exists(loc) else "missing"
            if digest != shard["sha256"]:
                bad.append(loc.uri)
        if bad:
            raise ChecksumMismatch(f"{len(bad)} shard(s) fail their manifest sha256: {bad[:10]}")


class OrderedLoader:
    """``DataLoader(batch_size=None)`` over an OrderedDataset, counting consumed steps."""

    def __init__(self, dataset: OrderedDataset, num_workers: int = 0, **kwargs):
        kwargs.setdefault("in_order", True)
        if not kwargs["in_order"]:
            raise ValueError("in_order=False would break the published order")
        self.dataset = dataset
        self.num_workers = num_workers
        self._dl = DataLoader(dataset, batch_size=None, num_workers=num_workers, **kwargs)

    def __len__(self) -> int:
        return len(self.dataset)

    def __iter__(self) -> Iterator:
        if self.num_workers == 0:
            yield from self._dl  # the dataset counts its own steps in-process
            return
        self.dataset._steps = 0
        for item in self._dl:
            self.dataset._steps += 1
            yield item

    def state_dict(self) -> dict:
        return self.dataset.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.dataset.load_state_dict(state)


def set_torch_threads_for_workers(worker_id: int) -> None:
    """``worker_init_fn`` that keeps each DataLoader worker single-threaded (2-core machines)."""
    torch.set_num_threads(1)
