"""Write documents in a given order as parquet shards, out of core, with bounded memory.

An ordering is ``rows``: output position ``p`` holds corpus row ``rows[p]``. The corpus
is a parquet file or a directory of parquet files (global row index = files in name
order, rows in file order). Output is ``part-00000.parquet, ...``: every corpus column
plus ``position`` (and optional extra per-position columns).

Every output shard is an independent unit of work (a Dagster partition). Two ways to
fill a shard, with the same bytes as a result:

* **gather** (:func:`write_shard`): read only the source row groups that hold the
  shard's rows, in passes that fit the memory limit. Cheap when an ordering keeps
  locality (few row groups per shard); a random permutation makes every shard read the
  whole corpus.
* **bucket** (:func:`scatter_source_file` then :func:`write_shard_from_spill`): read the
  corpus once in order, append each row to its shard's spill file (Arrow IPC), then
  each shard sorts its own spill. Two sequential passes whatever the permutation.

:func:`write_ordered_shards` picks the cheaper one from parquet metadata alone.
``memory_limit_bytes`` caps the whole process, not only the Arrow data: the resident set
at entry (interpreter, libraries, the ``rows`` array, its inverse and any extra columns,
measured after they are built) is subtracted first, a share is kept back for allocator
fragmentation, and only the rest is planned for data. Too small a cap raises
:class:`MemoryCapError` naming the cap and the minimum it needs.
"""

import hashlib
import io
import os
import posixpath
import shutil
import sys
import tempfile
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from curation.corpus import CorpusError, format_of, list_corpus_files
from curation.storage import Location, list_files, resolve

MiB = 1 << 20
DEFAULT_MEMORY_LIMIT = 512 * MiB
TARGET_ROW_GROUP_BYTES = 64 * MiB
MAX_ROW_GROUP_ROWS = 10_000
POSITION = "position"
SHARD_NAME = "part-{:05d}.parquet"
SPILL_NAME = "shard-{:05d}/src-{:05d}.arrow"
#: Fixed writer options: same input, same bytes (parquet carries no timestamps).
WRITER_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 3,
    "use_dictionary": True,
    "write_statistics": True,
    "version": "2.6",
}
#: Spill files are read once, soon after: a fast codec (or none on fast local disks).
SPILL_COMPRESSION: str | None = "lz4"
#: Share of the data budget kept back for allocator fragmentation and codec buffers.
HEADROOM = 0.2


class ShardError(ValueError):
    """Base class for bad input to the shard writer."""


class RowsError(ShardError):
    """``rows`` is not a permutation of the corpus rows."""


class CorpusFormatError(ShardError):
    """The corpus is not readable as one parquet table (jsonl, mixed schemas, empty)."""


class MemoryCapWarning(ResourceWarning):
    """The process already holds most of the cap before the writer starts."""


class MemoryCapError(ShardError):
    """``memory_limit_bytes`` leaves no room for one pass once the process's own memory is
    counted; ``minimum`` is the smallest cap that would work now."""

    def __init__(self, cap: int, minimum: int, baseline: int):
        self.cap, self.minimum, self.baseline = cap, minimum, baseline
        super().__init__(
            f"memory_limit_bytes={cap:,} is too small: this process already holds "
            f"{baseline:,} bytes (interpreter, libraries, rows and positions arrays) and one "
            f"pass needs {minimum - baseline:,} more; raise the cap to at least {minimum:,} bytes"
        )


@dataclass(frozen=True)
class ShardSpec:
    """Output positions ``[start, stop)`` written to shard ``index``."""

    index: int
    start: int
    stop: int

    @property
    def name(self) -> str:
        return SHARD_NAME.format(self.index)


@dataclass(frozen=True)
class ShardInfo:
    """What was written: the final URI, its row span and its sha256."""

    path: str
    index: int
    rows: int
    first_position: int
    sha256: str
    bytes: int
    passes: int = 1  # read passes it took (more when the memory limit is small)


@dataclass(frozen=True)
class CorpusLayout:
    """Where every global row lives, from parquet footers only (no data read)."""

    files: list[Location]
    schema: pa.Schema
    rg_file: np.ndarray  # file index of each global row group
    rg_local: np.ndarray  # row group index inside its file
    rg_start: np.ndarray  # first global row of each row group, plus n_rows at the end
    rg_bytes: np.ndarray  # uncompressed bytes of each row group

    @property
    def n_rows(self) -> int:
        return int(self.rg_start[-1])

    @property
    def total_bytes(self) -> int:
        return int(self.rg_bytes.sum())

    def bytes_per_row(self) -> np.ndarray:
        """Estimated in-memory bytes of one row, per row group."""
        counts = np.diff(self.rg_start)
        return self.rg_bytes / np.maximum(counts, 1)

    def row_group_of(self, rows: np.ndarray) -> np.ndarray:
        """Global row group index holding each global row."""
        return np.searchsorted(self.rg_start, rows, side="right") - 1


# ----------------------------------------------------------------------------- corpus


def corpus_layout(corpus_uri: str | os.PathLike) -> CorpusLayout:
    """Read the parquet footers of a corpus and map its global rows to row groups."""
    loc = resolve(corpus_uri)
    try:
        files = list_corpus_files(loc.uri)  # the same files, in the same order, as the reader
    except CorpusError as exc:
        raise CorpusFormatError(str(exc)) from exc
    other = [f.uri for f in files if format_of(f.path) != "parquet"]
    if other:
        raise CorpusFormatError(
            f"corpus {loc.uri} holds non-parquet files {other[:10]}; reordering needs parquet "
            "(random access by row group): convert them first, e.g. with curation.corpus."
            "iter_batches and pyarrow.parquet.ParquetWriter"
        )
    schema, rg_file, rg_local, counts, sizes, mismatched = None, [], [], [], [], []
    for i, f in enumerate(files):
        try:
            with f.fs.open_input_file(f.path) as handle:
                meta = pq.ParquetFile(handle).metadata
                file_schema = meta.schema.to_arrow_schema().remove_metadata()
        except (OSError, pa.ArrowException) as exc:
            raise CorpusFormatError(f"corpus file {f.uri} is not readable parquet: {exc}") from exc
        if schema is None:
            schema = file_schema
        elif not file_schema.equals(schema):
            mismatched.append(f.uri)
        for g in range(meta.num_row_groups):
            rg = meta.row_group(g)
            rg_file.append(i)
            rg_local.append(g)
            counts.append(rg.num_rows)
            sizes.append(rg.total_byte_size)
    if mismatched:
        raise CorpusFormatError(
            f"files whose schema differs from {files[0].uri}: {mismatched[:10]}"
        )
    if POSITION in schema.names:
        raise CorpusFormatError(f"corpus {loc.uri} already has a {POSITION!r} column")
    return CorpusLayout(
        files=files,
        schema=schema,
        rg_file=np.asarray(rg_file, dtype=np.int64),
        rg_local=np.asarray(rg_local, dtype=np.int64),
        rg_start=np.concatenate([[0], np.cumsum(counts, dtype=np.int64)]).astype(np.int64),
        rg_bytes=np.asarray(sizes, dtype=np.float64),
    )


class _SourceReader:
    """Opens corpus files lazily and reads row groups, whole or one column at a time."""

    def __init__(self, layout: CorpusLayout, chunk_limit: float):
        self.layout = layout
        self.chunk_limit = chunk_limit
        self._files: dict[int, pq.ParquetFile] = {}

    def _file(self, i: int) -> pq.ParquetFile:
        if i not in self._files:
            loc = self.layout.files[i]
            self._files[i] = pq.ParquetFile(loc.fs.open_input_file(loc.path))
        return self._files[i]

    def take(self, rg: int, offsets: np.ndarray) -> pa.Table:
        """Rows ``offsets`` of global row group ``rg``; column-wise if the group is large."""
        try:
            return self._take(rg, offsets)
        except (OSError, pa.ArrowException) as exc:
            raise self._corrupt(rg, exc) from exc

    def _corrupt(self, rg: int, exc: Exception) -> CorpusFormatError:
        loc = self.layout.files[int(self.layout.rg_file[rg])]
        return CorpusFormatError(
            f"corpus file {loc.uri} is damaged (row group {int(self.layout.rg_local[rg])}): {exc}"
        )

    def _take(self, rg: int, offsets: np.ndarray) -> pa.Table:
        pf = self._file(int(self.layout.rg_file[rg]))
        local = int(self.layout.rg_local[rg])
        idx = pa.array(offsets, type=pa.int64())
        if self.layout.rg_bytes[rg] <= self.chunk_limit:
            return pf.read_row_group(local).take(idx).replace_schema_metadata(None)
        cols = [
            pf.read_row_group(local, columns=[name]).column(0).take(idx)
            for name in self.layout.schema.names
        ]
        return pa.Table.from_arrays(cols, schema=self.layout.schema)

    def read(self, rg: int) -> pa.Table:
        try:
            pf = self._file(int(self.layout.rg_file[rg]))
            return pf.read_row_group(int(self.layout.rg_local[rg])).replace_schema_metadata(None)
        except (OSError, pa.ArrowException) as exc:
            raise self._corrupt(rg, exc) from exc

    def close(self) -> None:
        self._files.clear()


# ----------------------------------------------------------------------------- checks


def validate_rows(rows: Any, n_rows: int) -> np.ndarray:
    """Return ``rows`` as int64, or raise :class:`RowsError` naming up to 10 positions."""
    arr = np.asarray(rows)
    if arr.ndim != 1:
        raise RowsError(f"rows must be 1-D, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise RowsError(f"rows must be integers, got dtype {arr.dtype}")
    arr = arr.astype(np.int64, copy=False)
    bad = np.flatnonzero((arr < 0) | (arr >= n_rows))
    if bad.size:
        raise RowsError(
            f"{bad.size} row indices out of range [0, {n_rows}) at positions "
            f"{bad[:10].tolist()} (values {arr[bad[:10]].tolist()})"
        )
    order = np.argsort(arr, kind="stable")
    dup = order[1:][arr[order[1:]] == arr[order[:-1]]]
    if dup.size:
        dup.sort()
        raise RowsError(
            f"{dup.size} duplicate row indices at positions {dup[:10].tolist()} "
            f"(values {arr[dup[:10]].tolist()}); rows must be a permutation"
        )
    if arr.size != n_rows:
        seen = np.zeros(n_rows, dtype=bool)
        seen[arr] = True
        missing = np.flatnonzero(~seen)
        raise RowsError(
            f"rows has {arr.size} positions but the corpus has {n_rows} rows; "
            f"not a permutation: missing corpus rows {missing[:10].tolist()}"
        )
    return arr


def _check_extra(extra: dict[str, Any] | None, n: int, schema: pa.Schema) -> dict[str, pa.Array]:
    out: dict[str, pa.Array] = {}
    for name, values in (extra or {}).items():
        if name in schema.names or name == POSITION:
            raise ShardError(f"extra column {name!r} clashes with a corpus column or {POSITION!r}")
        arr = pa.array(np.asarray(values)) if not isinstance(values, pa.Array) else values
        if len(arr) != n:
            raise ShardError(f"extra column {name!r} has {len(arr)} values, expected {n}")
        out[name] = arr
    return out


# ----------------------------------------------------------------------------- memory


def resident_bytes() -> int:
    """Bytes this process holds now (resident set, /proc/self/statm); 0 where unknown.
    Measured after the ordering arrays exist, so it counts them and the interpreter."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        import resource  # no /proc (macOS): peak RSS is the best bound available

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(peak if sys.platform == "darwin" else peak * 1024)


def min_data_bytes(layout: CorpusLayout, rg_rows: int) -> float:
    """Data bytes one pass cannot go below: a source row group plus an output row group held
    about three times (read, reordered, encoded)."""
    if not layout.rg_bytes.size:
        return 0.0
    out_group = min(rg_rows * float(layout.bytes_per_row().max()), float(layout.total_bytes))
    return float(layout.rg_bytes.max()) + 3 * out_group


def data_budget(
    memory_limit_bytes: int,
    layout: CorpusLayout,
    rg_rows: int,
    baseline_bytes: int | None,
    workers: int = 1,
) -> float:
    """Bytes left for Arrow data under a process cap: the cap less what the process holds
    (``baseline_bytes``, measured when None) less headroom.

    Raises :class:`MemoryCapError` when that leaves less than one pass. One exception: when
    the cap would suffice for the writer alone but the *measured* process already holds the
    rest (a long-lived worker, libraries the writer does not own), it warns
    (:class:`MemoryCapWarning`) and runs at its minimum, since it cannot free the caller's
    memory and refusing would only stop the pipeline. ``workers`` share what is left."""
    measured = baseline_bytes is None
    baseline = resident_bytes() if measured else int(baseline_bytes)
    need = min_data_bytes(layout, rg_rows) * workers
    data = (memory_limit_bytes - baseline) * (1 - HEADROOM)
    if data >= need and memory_limit_bytes > baseline:
        return data / workers
    writer_alone = int(np.ceil(need / (1 - HEADROOM))) + 1
    error = MemoryCapError(int(memory_limit_bytes), baseline + writer_alone, baseline)
    if not measured or memory_limit_bytes < writer_alone:
        raise error
    warnings.warn(str(error) + "; running at the minimum instead", MemoryCapWarning, 2)
    return max(need, 1.0) / workers


def release_memory() -> None:
    """Hand freed Arrow memory back to the OS between passes (mimalloc/jemalloc keep it)."""
    pa.default_memory_pool().release_unused()


# ----------------------------------------------------------------------------- planning


def plan_shards(n_rows: int, rows_per_shard: int) -> list[ShardSpec]:
    """Cut ``n_rows`` output positions into consecutive shards (the last one shorter)."""
    if rows_per_shard < 1:
        raise ShardError(f"rows_per_shard must be >= 1, got {rows_per_shard}")
    starts = range(0, max(n_rows, 0), rows_per_shard)
    return [ShardSpec(i, s, min(s + rows_per_shard, n_rows)) for i, s in enumerate(starts)]


def default_row_group_rows(
    layout: CorpusLayout, memory_limit_bytes: int = DEFAULT_MEMORY_LIMIT
) -> int:
    """Rows per output row group: ~64 MiB (less under a small memory limit, since a pass
    holds at least one row group), at most 10 000 rows. Same for every shard of a run."""
    per_row = max(layout.total_bytes / max(layout.n_rows, 1), 1.0)
    target = min(TARGET_ROW_GROUP_BYTES, memory_limit_bytes / 8)
    return int(max(1, min(MAX_ROW_GROUP_ROWS, target // per_row)))


def plan_passes(est_bytes: np.ndarray, row_group_rows: int, budget: float) -> list[tuple[int, int]]:
    """Split a shard (per-position byte estimates) into passes of whole output row groups
    whose estimated size fits ``budget``; at least one row group per pass."""
    n = est_bytes.size
    edges = np.arange(0, n, row_group_rows)
    group_bytes = np.add.reduceat(est_bytes, edges) if n else np.zeros(0)
    passes, start, acc = [], 0, 0.0
    for g, size in enumerate(group_bytes):  # loop over row groups, not rows
        if acc and acc + size > budget:
            passes.append((start, int(edges[g])))
            start, acc = int(edges[g]), 0.0
        acc += float(size)
    if n:
        passes.append((start, n))
    return passes


def gather_read_bytes(
    layout: CorpusLayout, rows: np.ndarray, specs: list[ShardSpec], stop_above: float = np.inf
) -> float:
    """Bytes the gather strategy would read (one pass per shard): the row groups each shard
    touches. Loops over shards (memory O(shard)); stops early once above ``stop_above``."""
    total = 0.0
    for spec in specs:
        touched = np.unique(layout.row_group_of(rows[spec.start : spec.stop]))
        total += float(layout.rg_bytes[touched].sum())
        if total > stop_above:
            break
    return total


# ----------------------------------------------------------------------------- writing


class _HashingSink(io.RawIOBase):
    """Forwards writes to a stream and hashes them, so sha256 costs no re-read."""

    def __init__(self, stream: Any):
        self.stream, self.digest, self.size = stream, hashlib.sha256(), 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self.digest.update(view)
        self.stream.write(view)
        self.size += view.nbytes
        return view.nbytes


def _write_parquet(
    out: Location,
    spec: ShardSpec,
    schema: pa.Schema,
    tables: Iterator[pa.Table],
    rg_rows: int,
    passes: int,
) -> ShardInfo:
    """Write tables to ``out/part-NNNNN.parquet`` via a temp name (local), hashing on the fly."""
    final = out.join(spec.name)
    if not out.is_s3:
        out.fs.create_dir(out.path, recursive=True)
    target = final if out.is_s3 else out.join(f".{spec.name}.tmp-{os.getpid()}-{id(spec)}")
    with target.fs.open_output_stream(target.path) as stream:
        sink = _HashingSink(stream)
        with pq.ParquetWriter(pa.PythonFile(sink, mode="w"), schema, **WRITER_OPTIONS) as w:
            for table in tables:
                w.write_table(table, row_group_size=rg_rows)
    if not out.is_s3:
        out.fs.move(target.path, final.path)
    return ShardInfo(
        final.uri,
        spec.index,
        spec.stop - spec.start,
        spec.start,
        sink.digest.hexdigest(),
        sink.size,
        passes,
    )


def _output_schema(layout: CorpusLayout, extra: dict[str, pa.Array]) -> pa.Schema:
    fields = list(layout.schema) + [pa.field(POSITION, pa.int64())]
    return pa.schema(fields + [pa.field(k, v.type) for k, v in extra.items()])


def _finish(table: pa.Table, a: int, extra: dict[str, pa.Array], schema: pa.Schema) -> pa.Table:
    """Append ``position`` (if missing) and the extra columns for positions ``a..``."""
    n = table.num_rows
    if POSITION not in table.column_names:
        table = table.append_column(POSITION, pa.array(np.arange(a, a + n, dtype=np.int64)))
    for name, values in extra.items():
        table = table.append_column(name, values.slice(a, n))
    return table.select(schema.names).cast(schema)


@dataclass
class _Prepared:
    layout: CorpusLayout
    rows: np.ndarray
    extra: dict[str, pa.Array]
    schema: pa.Schema
    rg_rows: int


def _prepare(
    corpus_uri: str | os.PathLike | CorpusLayout,
    rows: Any,
    extra_columns: dict[str, Any] | None,
    row_group_rows: int | None,
    validated: bool = False,
    memory_limit_bytes: int = DEFAULT_MEMORY_LIMIT,
) -> _Prepared:
    layout = corpus_uri if isinstance(corpus_uri, CorpusLayout) else corpus_layout(corpus_uri)
    arr = np.asarray(rows, dtype=np.int64) if validated else validate_rows(rows, layout.n_rows)
    extra = _check_extra(extra_columns, arr.size, layout.schema)
    rg_rows = row_group_rows or default_row_group_rows(layout, memory_limit_bytes)
    return _Prepared(layout, arr, extra, _output_schema(layout, extra), rg_rows)


def _pass_plan(p: _Prepared, spec: ShardSpec, data: float) -> list[tuple[int, int]]:
    """Passes for one shard: a source row group, and output tables held about three times
    (read, reordered, encoded) within the data budget."""
    src = p.rows[spec.start : spec.stop]
    est = p.layout.bytes_per_row()[p.layout.row_group_of(src)]
    biggest = float(p.layout.rg_bytes.max()) if p.layout.rg_bytes.size else 0.0
    return plan_passes(est, p.rg_rows, max((data - biggest) / 3, 1.0))


def _gather_pass(reader: _SourceReader, layout: CorpusLayout, src: np.ndarray) -> pa.Table:
    """Corpus rows ``src`` in the order given, reading each needed row group once."""
    order = np.argsort(src, kind="stable")
    sorted_src = src[order]
    rg = layout.row_group_of(sorted_src)
    bounds = np.flatnonzero(np.diff(rg)) + 1
    starts = np.concatenate([[0], bounds])
    stops = np.concatenate([bounds, [sorted_src.size]])
    pieces = [
        reader.take(int(rg[a]), sorted_src[a:b] - layout.rg_start[rg[a]])
        for a, b in zip(starts, stops, strict=True)
    ]
    gathered = pa.concat_tables(pieces) if pieces else layout.schema.empty_table()
    inverse = np.empty_like(order)
    inverse[order] = np.arange(order.size)
    return gathered.take(pa.array(inverse))


def write_shard(
    corpus_uri: str | os.PathLike | CorpusLayout,
    rows: Any,
    spec: ShardSpec,
    out_uri: str | os.PathLike,
    *,
    memory_limit_bytes: int = DEFAULT_MEMORY_LIMIT,
    extra_columns: dict[str, Any] | None = None,
    row_group_rows: int | None = None,
    baseline_bytes: int | None = None,
    _prepared: _Prepared | None = None,
    _data: float | None = None,
) -> ShardInfo:
    """Gather one shard straight from the corpus row groups (bounded passes).
    ``memory_limit_bytes`` caps the process; ``baseline_bytes`` (default: measured resident
    set) is what it already holds."""
    p = _prepared or _prepare(
        corpus_uri, rows, extra_columns, row_group_rows, memory_limit_bytes=memory_limit_bytes
    )
    data = _data or data_budget(memory_limit_bytes, p.layout, p.rg_rows, baseline_bytes)
    passes = _pass_plan(p, spec, data)
    reader = _SourceReader(p.layout, data / 4)

    def tables() -> Iterator[pa.Table]:
        for a, b in passes:
            src = p.rows[spec.start + a : spec.start + b]
            yield _finish(_gather_pass(reader, p.layout, src), spec.start + a, p.extra, p.schema)
            release_memory()

    try:
        return _write_parquet(resolve(out_uri), spec, p.schema, tables(), p.rg_rows, len(passes))
    finally:
        reader.close()


# ----------------------------------------------------------------------------- bucket strategy


def inverse_permutation(rows: np.ndarray) -> np.ndarray:
    """``pos[r]`` = output position of corpus row ``r``."""
    pos = np.empty_like(rows)
    pos[rows] = np.arange(rows.size, dtype=np.int64)
    return pos


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
    _data: float | None = None,
) -> int:
    """Read one corpus file in order and append each row (plus its ``position``) to its
    shard's spill file ``spill/shard-K/src-F.arrow``. One unit of work per source file."""
    p = _prepare(
        corpus_uri,
        rows,
        None,
        None,
        validated=positions is not None,
        memory_limit_bytes=memory_limit_bytes,
    )
    layout = p.layout
    pos = positions if positions is not None else inverse_permutation(p.rows)
    data = _data or data_budget(memory_limit_bytes, layout, p.rg_rows, baseline_bytes)
    starts = np.asarray([s.start for s in specs], dtype=np.int64)
    spill = resolve(spill_uri)
    reader = _SourceReader(layout, data / 4)
    writers: dict[int, Any] = {}
    options = ipc.IpcWriteOptions(compression=spill_compression)
    chunk_budget = data / 3  # a chunk is held twice (read, sorted by shard) plus codec buffers
    groups = np.flatnonzero(layout.rg_file == file_index)
    written = 0
    try:
        for chunk in _chunks(groups, layout.rg_bytes, chunk_budget):
            table = pa.concat_tables([reader.read(int(g)) for g in chunk])
            if table.num_rows == 0:
                continue
            first, last = layout.rg_start[chunk[0]], layout.rg_start[chunk[-1] + 1]
            chunk_pos = pos[first:last]
            shard_of = np.searchsorted(starts, chunk_pos, side="right") - 1
            order = np.argsort(shard_of, kind="stable")
            table = table.append_column(POSITION, pa.array(chunk_pos)).take(pa.array(order))
            shard_sorted = shard_of[order]
            cuts = np.flatnonzero(np.diff(shard_sorted)) + 1
            for a, b in zip(np.r_[0, cuts], np.r_[cuts, order.size], strict=True):
                k = int(shard_sorted[a])
                if k not in writers:
                    writers[k] = _open_spill(spill, k, file_index, table.schema, options)
                writers[k][1].write_table(table.slice(int(a), int(b - a)))
            written += table.num_rows
            del table
            release_memory()
    finally:
        for stream, writer in writers.values():
            writer.close()
            stream.close()
        reader.close()
    return written


def _chunks(groups: np.ndarray, sizes: np.ndarray, budget: float) -> Iterator[np.ndarray]:
    """Consecutive runs of row groups whose total size fits the budget (at least one)."""
    run: list[int] = []
    acc = 0.0
    for g in groups:
        if run and acc + sizes[g] > budget:
            yield np.asarray(run)
            run, acc = [], 0.0
        run.append(int(g))
        acc += float(sizes[g])
    if run:
        yield np.asarray(run)


def _open_spill(spill: Location, shard: int, file_index: int, schema: pa.Schema, options: Any):
    loc = spill.join(SPILL_NAME.format(shard, file_index))
    if not spill.is_s3:
        spill.fs.create_dir(posixpath.dirname(loc.path), recursive=True)
    stream = spill.fs.open_output_stream(loc.path)
    return stream, ipc.new_file(stream, schema, options=options)


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
    _prepared: _Prepared | None = None,
    _data: float | None = None,
) -> ShardInfo:
    """Write one shard from its spill files: filter each pass's positions, sort, write.
    ``memory_limit_bytes`` caps the process (see :func:`write_shard`)."""
    p = _prepared or _prepare(
        corpus_uri, rows, extra_columns, row_group_rows, memory_limit_bytes=memory_limit_bytes
    )
    data = _data or data_budget(memory_limit_bytes, p.layout, p.rg_rows, baseline_bytes)
    passes = _pass_plan(p, spec, data)
    shard_dir = resolve(spill_uri).join(posixpath.dirname(SPILL_NAME.format(spec.index, 0)))
    files = list_files(shard_dir, ".arrow") if spec.stop > spec.start else []
    spill_schema = p.layout.schema.append(pa.field(POSITION, pa.int64()))

    def tables() -> Iterator[pa.Table]:
        for a, b in passes:
            lo, hi = spec.start + a, spec.start + b
            pieces = [
                _select(batch, lo, hi, len(passes) == 1) for f in files for batch in _read_spill(f)
            ]
            table = pa.Table.from_batches([x for x in pieces if x.num_rows], schema=spill_schema)
            pos = table.column(POSITION).to_numpy()
            if pos.size != hi - lo:
                raise ShardError(f"spill of shard {spec.index} has {pos.size} rows in [{lo}, {hi})")
            yield _finish(table.take(pa.array(np.argsort(pos))), lo, p.extra, p.schema)
            del table
            release_memory()

    return _write_parquet(resolve(out_uri), spec, p.schema, tables(), p.rg_rows, len(passes))


def _read_spill(loc: Location) -> Iterator[pa.RecordBatch]:
    with loc.fs.open_input_file(loc.path) as handle:
        reader = ipc.open_file(handle)
        for i in range(reader.num_record_batches):
            yield reader.get_batch(i)


def _select(batch: pa.RecordBatch, lo: int, hi: int, whole: bool) -> pa.RecordBatch:
    if whole:
        return batch
    pos = batch.column(POSITION).to_numpy()
    return batch.take(pa.array(np.flatnonzero((pos >= lo) & (pos < hi))))


# ----------------------------------------------------------------------------- driver


def choose_strategy(layout: CorpusLayout, rows: np.ndarray, specs: list[ShardSpec]) -> str:
    """``gather`` when shards touch few row groups (read ≤ 1.5x the corpus), else ``bucket``
    (read once, spill once: ~2 sequential passes whatever the order)."""
    limit = 1.5 * layout.total_bytes
    cheap = gather_read_bytes(layout, rows, specs, stop_above=limit) <= limit
    return "gather" if cheap else "bucket"


def write_ordered_shards(
    corpus_uri: str | os.PathLike,
    rows: Any,
    out_uri: str | os.PathLike,
    *,
    rows_per_shard: int,
    memory_limit_bytes: int = DEFAULT_MEMORY_LIMIT,
    extra_columns: dict[str, Any] | None = None,
    workers: int = 1,
    progress: bool = True,
    strategy: str = "auto",
    row_group_rows: int | None = None,
    spill_uri: str | os.PathLike | None = None,
    spill_compression: str | None = SPILL_COMPRESSION,
    baseline_bytes: int | None = None,
) -> list[ShardInfo]:
    """Write the whole corpus in ``rows`` order as ``part-*.parquet`` under ``out_uri``.

    ``memory_limit_bytes`` caps the process: ``baseline_bytes`` (default: the resident set
    measured once ``rows``, its inverse and the extra columns exist) is taken off first and
    ``workers`` shards share the rest. ``strategy`` is ``auto``, ``gather`` or ``bucket``; the
    bytes written are the same for each, and for any cap, baseline or worker count.
    """
    if strategy not in ("auto", "gather", "bucket"):
        raise ShardError(f"strategy must be auto, gather or bucket, got {strategy!r}")
    workers = max(1, int(workers))
    prepared = _prepare(  # row groups follow the total limit: bytes do not depend on workers
        corpus_uri, rows, extra_columns, row_group_rows, memory_limit_bytes=memory_limit_bytes
    )
    specs = plan_shards(prepared.rows.size, rows_per_shard)
    if strategy == "auto":
        strategy = choose_strategy(prepared.layout, prepared.rows, specs)
    positions = inverse_permutation(prepared.rows) if strategy == "bucket" else None
    layout, rg_rows = prepared.layout, prepared.rg_rows
    data = data_budget(memory_limit_bytes, layout, rg_rows, baseline_bytes, workers)
    if strategy == "gather":
        return _run(
            lambda s: write_shard(layout, None, s, out_uri, _prepared=prepared, _data=data),
            specs,
            workers,
            progress,
            "shards",
        )
    own_spill = spill_uri is None
    spill = spill_uri or tempfile.mkdtemp(prefix="curation-spill-")
    try:
        _run(
            lambda f: scatter_source_file(
                layout,
                prepared.rows,
                specs,
                spill,
                f,
                positions=positions,
                spill_compression=spill_compression,
                _data=data,
            ),
            list(range(len(layout.files))),
            workers,
            progress,
            "scatter",
        )
        return _run(
            lambda s: write_shard_from_spill(
                layout,
                None,
                s,
                spill,
                out_uri,
                _prepared=prepared,
                _data=data,
            ),
            specs,
            workers,
            progress,
            "shards",
        )
    finally:
        if own_spill:
            shutil.rmtree(spill, ignore_errors=True)


def _run(fn: Any, items: list, workers: int, progress: bool, desc: str) -> list:
    """Map ``fn`` over items with a thread pool (pyarrow releases the GIL while it works)."""
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(items), desc=desc, unit=desc.rstrip("s"))
    results = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for result in pool.map(fn, items):
            results.append(result)
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    return results


__all__ = [
    "CorpusFormatError",
    "CorpusLayout",
    "MemoryCapError",
    "MemoryCapWarning",
    "RowsError",
    "ShardError",
    "ShardInfo",
    "ShardSpec",
    "corpus_layout",
    "data_budget",
    "resident_bytes",
    "plan_shards",
    "scatter_source_file",
    "validate_rows",
    "write_ordered_shards",
    "write_shard",
    "write_shard_from_spill",
]
