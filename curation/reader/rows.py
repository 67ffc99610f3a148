"""Global row ranges of a published version, read through parquet row groups.

Shared by the document reader and the packed-token reader; also opens the version a job
reads, resolving ``latest`` once for all ranks (see :func:`open_job_version`).
"""

import posixpath
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
import torch.distributed as dist
from torch.utils.data import get_worker_info

from curation import publish, storage
from curation.machine import prefault


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


class ShardLayoutMismatch(ValueError):
    """A shard's row groups differ from what its manifest claims."""


class DamagedShard(OSError):
    """A shard of a published version cannot be read; names the shard and the version."""


def job_rank(rank: int | None, world_size: int | None) -> tuple[int, int]:
    """This process's (rank, world size): as given, else the torch process group's, else
    (0, 1). Under torchrun a reader opened without them must not give every rank the whole
    dataset."""
    grouped = dist.is_available() and dist.is_initialized()
    if rank is None and world_size is None and grouped:
        return dist.get_rank(), dist.get_world_size()
    rank = 0 if rank is None else rank
    world_size = (dist.get_world_size() if grouped else 1) if world_size is None else world_size
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"need 0 <= rank < world_size, got {rank=} {world_size=}")
    return rank, world_size


def checked_columns(manifest: dict, columns: list[str] | None) -> list[str] | None:
    """The projection asked for, refused when it names a column the version lacks (a
    reader never yields nothing or drops a column silently)."""
    if columns is None:
        return None
    available = list(manifest.get("columns") or {})
    missing = [c for c in columns if c not in available]
    if missing or not columns:
        raise ValueError(
            f"columns {missing or columns} not in {manifest.get('dataset')}/"
            f"{manifest.get('version')}; it has {available}"
        )
    return list(columns)


class RowSource:
    """Reads global row ranges through parquet row groups, keeping one decoded group cached.

    Inside a DataLoader worker, groups decode on the worker's own thread: the workers are
    the parallelism there, and Arrow's thread pool in each of them only adds contention
    (~15% more CPU per row on 2 cores for the same wall time).
    """

    def __init__(self, version_uri: str, manifest: dict, columns: list[str] | None):
        self._dir = storage.resolve(version_uri)
        self._columns = columns
        self._threads = get_worker_info() is None
        sizes, owners, self._expected = [], [], []
        for i, shard in enumerate(manifest["shards"]):
            groups = shard.get("row_groups") or [shard["rows"]]
            sizes += groups
            owners += [(i, j) for j in range(len(groups))]
            self._expected.append([int(g) for g in groups])
        self._names = [s["name"] for s in manifest["shards"]]
        self._owners = owners
        self._starts = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)])
        self._file = None
        self._pf = None
        self._file_idx = -1
        self._cached = (-1, None)

    def _damaged(self, shard_idx: int, exc: Exception) -> DamagedShard:
        self.close()
        return DamagedShard(
            f"{self._dir.uri}/{self._names[shard_idx]} cannot be read ({type(exc).__name__}: "
            f"{exc}); the version is damaged: run `curation datasets verify`"
        )

    def _parquet(self, shard_idx: int) -> pq.ParquetFile:
        if shard_idx != self._file_idx:
            self.close()
            loc = self._dir.join(self._names[shard_idx])
            try:
                self._file = loc.fs.open_input_file(loc.path)
                self._pf = pq.ParquetFile(self._file, pre_buffer=False)
            except (OSError, pa.ArrowException) as exc:
                raise self._damaged(shard_idx, exc) from exc
            self._file_idx = shard_idx
            self._check_layout(shard_idx)
        return self._pf

    def _check_layout(self, shard_idx: int) -> None:
        """The file's own row groups must be the manifest's: rows are never placed by an
        unchecked claim, also when the job reads without ``verify``."""
        meta = self._pf.metadata
        actual = [meta.row_group(k).num_rows for k in range(meta.num_row_groups)]
        if actual != self._expected[shard_idx]:
            name = self._names[shard_idx]
            self.close()
            raise ShardLayoutMismatch(
                f"{self._dir.uri}/{name}: row groups {actual[:8]} (of {len(actual)}) differ from "
                f"the manifest's {self._expected[shard_idx][:8]}; the version is damaged or "
                "tampered with: run `curation datasets verify`"
            )

    def _group(self, g: int) -> pa.Table:
        if self._cached[0] != g:
            shard_idx, local = self._owners[g]
            pf = self._parquet(shard_idx)
            try:
                table = pf.read_row_group(local, columns=self._columns, use_threads=self._threads)
            except (OSError, pa.ArrowException) as exc:
                raise self._damaged(shard_idx, exc) from exc
            self._cached = (g, table)
        return self._cached[1]

    @property
    def group_starts(self) -> np.ndarray:
        """Global row where each row group starts, plus the total row count at the end."""
        return self._starts

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


class VersionMismatch(ValueError):
    """Ranks of one job opened different versions of a dataset."""


def open_job_version(uri: str, version: str, world_size: int) -> publish.PublishedVersion:
    """The version this job reads, the same on every rank.

    ``latest`` moves when a new version is published; ranks that each resolve it on either
    side of a publish would read different data. With a torch process group initialised,
    rank 0 resolves the name and broadcasts the id, and every rank checks that all ranks
    hold the same id (a mismatch raises :class:`VersionMismatch` on every rank). Without a
    process group, pass a concrete id to every rank (log ``ds.version`` once, or resolve it
    with ``curation.publish.resolve_version`` in the launcher).
    """
    root, dataset, pinned = split_dataset_uri(uri)
    if pinned is not None and version not in ("latest", pinned):
        raise ValueError(f"{uri} is version {pinned}, but version={version!r} was asked for")
    version = pinned or version
    grouped = world_size > 1 and dist.is_available() and dist.is_initialized()
    if grouped:  # every rank makes the same collective calls, whatever it asked for
        chosen = [publish.resolve_version(root, dataset) if dist.get_rank() == 0 else None]
        dist.broadcast_object_list(chosen, src=0)
        version = chosen[0] if version == "latest" else version
    pv = publish.open_version(root, dataset, version)
    if grouped:
        ids = [None] * dist.get_world_size()
        dist.all_gather_object(ids, pv.version)
        if len(set(ids)) > 1:
            raise VersionMismatch(f"ranks of this job opened different versions of {uri}: {ids}")
    return pv


def compact(array: pa.Array) -> pa.Array:
    """A copy holding only the slice's bytes: pickling a slice ships its parent's buffers."""
    return pa.concat_arrays([array])


def to_items(table: pa.Table, strings: str, compact_strings: bool = True) -> dict:
    """Numbers as writable numpy arrays (torch warns on read-only ones); strings as Arrow
    arrays (``strings="arrow"``; compact copies when they will be pickled) or Python lists."""
    return next(iter_items(table, np.array([table.num_rows]), strings, compact_strings))


def iter_items(
    table: pa.Table, lengths: np.ndarray, strings: str, compact_strings: bool = True
) -> Iterator[dict]:
    """:func:`to_items` of consecutive slices of ``lengths`` rows. Each column is converted
    once for all slices (numbers to one numpy array, chunks combined), so a batch costs a
    slice and a copy per column, not a conversion: the per-batch work is what bounds a
    DataLoader's main process."""
    columns = []
    for name, col in zip(table.column_names, table.columns, strict=True):
        arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
        if pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type):
            columns.append((name, "number", arr.to_numpy(zero_copy_only=False)))
        else:
            columns.append((name, strings, arr))
    bounds = np.concatenate([[0], np.cumsum(lengths)]).tolist()
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        item = {}
        for name, kind, values in columns:
            if kind == "number":
                item[name] = np.array(values[a:b], copy=True)
            elif kind == "arrow":
                part = values.slice(a, b - a)
                item[name] = compact(part) if compact_strings else part
            else:
                item[name] = values.slice(a, b - a).to_pylist()
        yield item


def to_tensor(table: pa.Table, shared: bool = False) -> torch.Tensor:
    """The table as one Arrow IPC stream in a uint8 tensor: a DataLoader worker hands it
    over through shared memory instead of pickling it through a pipe. The stream is
    written straight into the tensor (sized by a dry run that copies nothing); with
    ``shared`` the tensor is allocated in shared memory, so the DataLoader sends it as is
    (it would otherwise copy every byte into shared memory once more)."""
    table = table.combine_chunks()  # one record batch: one message header, not one a range
    mock = pa.MockOutputStream()
    _write_stream(mock, table)
    if shared:
        tensor = torch.empty(0, dtype=torch.uint8)
        tensor.set_(torch.UntypedStorage._new_shared(mock.size()))
        prefault(tensor.data_ptr(), tensor.numel())
    else:
        tensor = torch.empty(mock.size(), dtype=torch.uint8)
    _write_stream(pa.FixedSizeBufferWriter(pa.py_buffer(tensor.numpy())), table)
    return tensor


def _write_stream(sink, table: pa.Table) -> None:
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)


def from_tensor(tensor: torch.Tensor) -> pa.Table:
    """The table of :func:`to_tensor`, mapped from the tensor's memory without a copy."""
    return pa.ipc.open_stream(pa.py_buffer(tensor.numpy())).read_all()
