"""The bucket strategy: read the corpus once in order, append each row to the spill file
(Arrow IPC) of its bucket -- a span of ``job.bucket_rows`` output positions inside its shard
-- then write each shard bucket by bucket, sorting each in memory. Two sequential passes over
the data whatever the permutation, and a shard written in several passes still reads each
spilled row once. Scattering is one unit of work per source file; writing, one per shard."""

import os
import posixpath
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from curation.machine import release_memory
from curation.shards.columns import POSITION
from curation.shards.errors import ShardError
from curation.shards.job import ShardJob
from curation.shards.layout import CorpusLayout, SourceReader
from curation.shards.memory import DEFAULT_MEMORY_LIMIT
from curation.shards.plan import ShardSpec
from curation.shards.writer import ShardInfo, write_parquet
from curation.storage import Location, list_files, resolve

SPILL_NAME = "shard-{:05d}/bucket-{:05d}-src-{:05d}.arrow"
#: Spill files are read once, soon after, mostly from the page cache: uncompressed, since
#: lz4 both ways cost more than the I/O it saved (bench/reorder.py); pass "lz4" or "zstd"
#: for a spill on slow disks or object storage.
SPILL_COMPRESSION: str | None = None


def scatter_file(
    job: ShardJob,
    specs: list[ShardSpec],
    spill_uri: str | os.PathLike,
    file_index: int,
    spill_compression: str | None = SPILL_COMPRESSION,
) -> int:
    """Append every row of source file ``file_index`` that has an output position (plus
    that ``position``) to the spill file of the bucket that holds it; return the rows
    written. Needs ``job.positions`` (-1: a row the ordering leaves out)."""
    if job.positions is None:
        raise ShardError("scatter needs the inverse permutation: prepare the job with positions")
    layout = job.layout
    starts, shard_index = bucket_starts(specs, job.bucket_rows)
    spill = resolve(spill_uri)
    reader = SourceReader(layout, job.data_bytes / 4)
    writers: dict[int, Any] = {}
    options = ipc.IpcWriteOptions(compression=spill_compression)
    chunk_budget = job.data_bytes / 3  # a chunk is held twice (read, sorted) plus codec buffers
    groups = groups_with_rows(layout, job.positions, np.flatnonzero(layout.rg_file == file_index))
    written = 0
    try:
        for chunk in _chunks(groups, layout.rg_bytes, chunk_budget):
            table = pa.concat_tables([reader.read(int(g)) for g in chunk])
            if table.num_rows == 0:
                continue
            first, last = layout.rg_start[chunk[0]], layout.rg_start[chunk[-1] + 1]
            for k, piece in bucket_pieces(starts, table, job.positions[first:last]):
                if k not in writers:
                    shard = specs[int(shard_index[k])]
                    local = (int(starts[k]) - shard.start) // job.bucket_rows
                    name = SPILL_NAME.format(shard.index, local, file_index)
                    writers[k] = _open_spill(spill, name, piece.schema, options)
                writers[k][1].write_table(piece)
                written += piece.num_rows
            del table
            release_memory()
    finally:
        for stream, writer in writers.values():
            writer.close()
            stream.close()
        reader.close()
    return written


def groups_with_rows(layout: CorpusLayout, positions: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """The row groups among ``groups`` (consecutive, of one file) that hold a row with an
    output position: a group whose rows a selection all left out is never read."""
    if groups.size == 0:
        return groups
    lo = layout.rg_start[groups[0]]
    kept = np.concatenate([[0], np.cumsum(positions[lo : layout.rg_start[groups[-1] + 1]] >= 0)])
    first, stop = layout.rg_start[groups] - lo, layout.rg_start[groups + 1] - lo
    return groups[kept[stop] - kept[first] > 0]


def bucket_pieces(
    starts: np.ndarray, table: pa.Table, positions: np.ndarray
) -> Iterator[tuple[int, pa.Table]]:
    """Cut a chunk of source rows (output ``positions``) into its buckets (``starts``: each
    bucket's first position): per bucket touched, in bucket order, its rows in source order
    with ``position`` appended. Rows at position -1 (left out by a selection) are dropped
    here, so every engine writes only the kept rows."""
    wanted = positions >= 0
    keep = None if wanted.all() else np.flatnonzero(wanted)
    if keep is not None:
        positions = positions[keep]
    if positions.size == 0:
        return
    bucket_of = np.searchsorted(starts, positions, side="right") - 1
    order = np.argsort(bucket_of, kind="stable")
    # one take both drops the left-out rows and groups the rest by bucket
    rows = order if keep is None else keep[order]
    table = table.take(pa.array(rows)).append_column(POSITION, pa.array(positions[order]))
    bucket_sorted = bucket_of[order]
    cuts = np.flatnonzero(np.diff(bucket_sorted)) + 1
    for a, b in zip(np.r_[0, cuts], np.r_[cuts, order.size], strict=True):
        yield int(bucket_sorted[a]), table.slice(int(a), int(b - a))


def chunk_groups(layout: CorpusLayout, budget: float) -> list[list[int]]:
    """Every file's row groups in consecutive chunks of about ``budget`` bytes (at least
    one group each): the scatter units an engine can run one by one."""
    out = []
    for f in range(len(layout.files)):
        groups = np.flatnonzero(layout.rg_file == f)
        out += [c.tolist() for c in _chunks(groups, layout.rg_bytes, budget)]
    return out


def shard_from_spill(
    job: ShardJob, spec: ShardSpec, spill_uri: str | os.PathLike, out_uri: str | os.PathLike
) -> ShardInfo:
    """Write shard ``spec`` from its spill files (see :func:`shard_from_pieces`)."""
    shard_dir = resolve(spill_uri).join(posixpath.dirname(SPILL_NAME.format(spec.index, 0, 0)))
    files = list_files(shard_dir, ".arrow") if spec.stop > spec.start else []
    bucket_of_file = np.asarray([_bucket_of(f) for f in files], dtype=np.int64)

    def pieces(first: int, last: int) -> Iterator[pa.RecordBatch]:
        mine = [f for f, k in zip(files, bucket_of_file, strict=True) if first <= k <= last]
        for f in mine:
            yield from _read_spill(f)

    return shard_from_pieces(job, spec, pieces, out_uri)


def shard_from_pieces(
    job: ShardJob,
    spec: ShardSpec,
    pieces: Callable[[int, int], Iterable[pa.RecordBatch]],
    out_uri: str | os.PathLike,
) -> ShardInfo:
    """Write shard ``spec`` from its scattered buckets: ``pieces(first, last)`` gives the
    rows (with ``position``) of the shard's buckets ``first..last`` in any order. Each pass
    takes the buckets it spans (filtered only where a bucket is larger than one pass),
    sorts by position and writes: the bytes depend on the rows alone, not on where the
    pieces were kept (spill files, an engine's object store)."""
    passes = job.passes(spec, job.bucket_rows)
    spill_schema = job.layout.schema.append(pa.field(POSITION, pa.int64()))

    def tables() -> Iterator[pa.Table]:
        for a, b in passes:
            lo, hi = spec.start + a, spec.start + b
            first, last = a // job.bucket_rows, (b - 1) // job.bucket_rows
            whole = a % job.bucket_rows == 0 and (b % job.bucket_rows == 0 or hi == spec.stop)
            selected = [_select(batch, lo, hi, whole) for batch in pieces(first, last)]
            table = pa.Table.from_batches([x for x in selected if x.num_rows], schema=spill_schema)
            pos = table.column(POSITION).to_numpy()
            if pos.size != hi - lo:
                raise ShardError(f"spill of shard {spec.index} has {pos.size} rows in [{lo}, {hi})")
            yield job.finish(table.take(pa.array(np.argsort(pos))), lo)
            del table
            release_memory()

    out = resolve(out_uri)
    return write_parquet(out, spec, job.schema, tables(), job.row_group_rows, len(passes))


def scatter_source_file(
    corpus_uri: str | os.PathLike | CorpusLayout,
    rows: Any,
    specs: list[ShardSpec],
    spill_uri: str | os.PathLike,
    file_index: int,
    *,
    memory_limit_bytes: int = DEFAULT_MEMORY_LIMIT,
    positions: np.ndarray | None = None,
    spill_compression: str | None = SPILL_COMPRESSION,
    baseline_bytes: int | None = None,
) -> int:
    """Scatter one corpus file as an independent unit of work: spill files
    ``spill/shard-K/src-F.arrow``. ``positions`` (the inverse of ``rows``, when the caller
    has it) skips checking ``rows`` again and building the inverse."""
    job = ShardJob.prepare(
        corpus_uri,
        rows,
        memory_limit_bytes=memory_limit_bytes,
        baseline_bytes=baseline_bytes,
        positions=True if positions is None else positions,
        checked=positions is not None,
    )
    return scatter_file(job, specs, spill_uri, file_index, spill_compression)


def write_shard_from_spill(
    corpus_uri: str | os.PathLike | CorpusLayout,
    rows: Any,
    spec: ShardSpec,
    spill_uri: str | os.PathLike,
    out_uri: str | os.PathLike,
    *,
    memory_limit_bytes: int = DEFAULT_MEMORY_LIMIT,
    extra_columns: dict[str, Any] | None = None,
    row_group_rows: int | None = None,
    baseline_bytes: int | None = None,
) -> ShardInfo:
    """Write one shard from its spill files as an independent unit of work.
    ``memory_limit_bytes`` caps the process (see :func:`curation.shards.write_shard`)."""
    job = ShardJob.prepare(
        corpus_uri,
        rows,
        memory_limit_bytes=memory_limit_bytes,
        extra_columns=extra_columns,
        row_group_rows=row_group_rows,
        baseline_bytes=baseline_bytes,
    )
    return shard_from_spill(job, spec, spill_uri, out_uri)


def _chunks(groups: np.ndarray, sizes: np.ndarray, budget: float) -> Iterator[np.ndarray]:
    """Consecutive runs of row groups whose total size fits the budget (at least one)."""
    run: list[int] = []
    acc = 0.0
    for g in groups:  # row groups of one file, not rows
        if run and acc + sizes[g] > budget:
            yield np.asarray(run)
            run, acc = [], 0.0
        run.append(int(g))
        acc += float(sizes[g])
    if run:
        yield np.asarray(run)


def bucket_starts(specs: list[ShardSpec], bucket_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """First output position of every bucket of every shard, and the shard each belongs to
    (index into ``specs``): buckets restart at each shard's start."""
    starts = [np.arange(s.start, s.stop, bucket_rows, dtype=np.int64) for s in specs]
    owner = [np.full(a.size, i, dtype=np.int64) for i, a in enumerate(starts)]
    if not starts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(starts), np.concatenate(owner)


def _bucket_of(loc: Location) -> int:
    return int(posixpath.basename(loc.path).split("-")[1])


def _open_spill(spill: Location, name: str, schema: pa.Schema, options: Any):
    loc = spill.join(name)
    if not spill.is_s3:
        spill.fs.create_dir(posixpath.dirname(loc.path), recursive=True)
    stream = spill.fs.open_output_stream(loc.path)
    return stream, ipc.new_file(stream, schema, options=options)


def _read_spill(loc: Location) -> Iterator[pa.RecordBatch]:
    """Batches of one spill file, read into memory the cap accounts for. Not memory-mapped:
    mapped pages count in the resident set while any batch refers to them, so a mapped
    spill made the write steps' RSS exceed the run's memory setting (5.2 GB at 3 GiB)."""
    with loc.fs.open_input_file(loc.path) as handle:
        reader = ipc.open_file(handle)
        for i in range(reader.num_record_batches):
            yield reader.get_batch(i)


def _select(batch: pa.RecordBatch, lo: int, hi: int, whole: bool) -> pa.RecordBatch:
    if whole:
        return batch
    pos = batch.column(POSITION).to_numpy()
    return batch.take(pa.array(np.flatnonzero((pos >= lo) & (pos < hi))))
