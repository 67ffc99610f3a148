"""Raw corpora staged once as parquet: keyed by the source files' bytes, reused while they
are unchanged, written atomically, on every core the run's memory setting leaves room for.

Reordering reads parquet row groups at random, so a corpus held as JSON lines (plain, gzip,
zstd), CSV or a Hugging Face ``save_to_disk`` directory is converted once into
``<storage root>/staging/<content key>/part-<file>-<part>.parquet``. The key is a sha256
over the conversion's version and every source file's relative name, size and sha256
(:mod:`curation.storage.hashing`); a size + mtime cache only saves re-hashing files that did
not change (it is a cache of the hash, never a substitute). A second run with the same
bytes finds the committed copy and converts nothing; a changed file gives another key.

Conversion is deterministic: chunks of a fixed size (not the memory setting), one row group
per chunk, fixed writer options; each file's chunks are parsed on their own and the files'
schemas unified in file order (:mod:`curation.corpus.unify`), so the same bytes always give
the same staged bytes, and the same rows as given as parquet publish the same ids in the
same order. Files are converted side by side on threads (pyarrow releases the GIL while it
decompresses, parses and encodes); each holds about :data:`WORKER_BYTES`.
"""

import os
import posixpath
import shutil
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from curation.corpus.fingerprint import CONVERSION, content_key, source_hashes
from curation.corpus.jsonl import CHUNK_BYTES, JsonLinesError, iter_tables
from curation.corpus.listing import ARROW, CSV, corpus_sources
from curation.corpus.read import CorpusError, iter_batches
from curation.corpus.unify import Part, conform, unify_parts
from curation.machine import available_cores, resident_bytes
from curation.storage import Location, exists, resolve
from curation.storage.workdir import commit_marker, read_marker

STAGING = "staging"
COMMIT = "_staged.json"
#: What one converting thread holds at most: a chunk, its parse, the encoded row group.
WORKER_BYTES = 8 * CHUNK_BYTES
#: Fixed writer options (same input, same bytes): fast zstd and no dictionary encoding
#: (trying it hashes every text value for nothing: 38% of the write on web text, and zstd
#: already packs repeated short values; Arrow dictionary columns still read back as such).
WRITER_OPTIONS = {
    "compression": "zstd",
    "compression_level": 1,
    "use_dictionary": False,
    "version": "2.6",
}


#: Runs ``fn(*call)`` for each call (one per source file), yielding results in call order.
MapFiles = Callable[[Callable, list[tuple]], Iterator]


class StagingError(CorpusError):
    """A corpus that cannot be staged; the message names the file (and line) at fault."""


@dataclass(frozen=True)
class StagedCorpus:
    """The parquet corpus the pipeline reads: the source itself when it is parquet, else
    its staged copy. ``reused``: the copy existed (nothing was converted)."""

    uri: str
    source: str
    format: str
    key: str = ""
    reused: bool = False


def _log_default(message: str) -> None:
    import logging

    logging.getLogger(__name__).info(message)


# ------------------------------------------------------------------ converting one file


class _PartWriter:
    """Writes one source file's tables as parquet parts: a new part starts only when a
    chunk brings a field or type the current part cannot hold."""

    def __init__(self, out: Location, index: int, uri: str):
        self.out, self.index, self.uri = out, index, uri
        self.parts: list[Part] = []
        self._writer: pq.ParquetWriter | None = None

    def write(self, table: pa.Table, first_line: int, last_line: int) -> None:
        table = table.replace_schema_metadata(None)
        if self._writer is not None:
            current = self.parts[-1]
            merged = unify_parts([current, Part("", self.uri, table.schema, 0, first_line)])
            if merged.equals(current.schema):
                table = conform(table, current.schema)
            else:
                self._close()
                table = conform(table, merged)
        if self._writer is None:
            name = f"part-{self.index:05d}-{len(self.parts):03d}.parquet"
            self.parts.append(Part(name, self.uri, table.schema, 0, first_line))
            self._writer = pq.ParquetWriter(
                self.out.join(name).path, table.schema, filesystem=self.out.fs, **WRITER_OPTIONS
            )
        self._writer.write_table(table, row_group_size=max(1, table.num_rows))
        part = self.parts[-1]
        self.parts[-1] = Part(
            part.name,
            part.uri,
            part.schema,
            part.rows + table.num_rows,
            part.first_line,
            last_line,
        )

    def _close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def close(self) -> list[Part]:
        self._close()
        return self.parts


def _arrow_tables(loc: Location):
    """A ``save_to_disk`` Arrow file (IPC stream) as tables of about one chunk each."""
    with loc.fs.open_input_stream(loc.path) as f:
        reader = pa.ipc.open_stream(f)
        yield from _grouped(reader, loc)


def _grouped(batches, loc: Location):
    pending, size, row = [], 0, 1
    for batch in batches:
        pending.append(batch)
        size += batch.nbytes
        if size >= CHUNK_BYTES:
            table = pa.Table.from_batches(pending)
            yield row, table
            row, pending, size = row + table.num_rows, [], 0
    if pending:
        yield row, pa.Table.from_batches(pending)


def _with_ids(table: pa.Table, column: str, name: str, start: int, uri: str) -> pa.Table:
    """``table`` with a first column ``column`` = ``<file name>#<record index in the file>``:
    unique, stable ids that point back at the source record (vectorised)."""
    if column in table.column_names:
        raise StagingError(
            f"{uri}: already has a column {column!r}; corpus.ids: file_row makes that column, "
            "so either use the corpus's own ids (ids: column) or name another id_column"
        )
    rows = pc.cast(pa.array(np.arange(start, start + table.num_rows, dtype=np.int64)), pa.string())
    ids = pc.binary_join_element_wise(pa.scalar(f"{name}#"), rows, "")
    return table.add_column(0, column, ids)


def _convert_file(
    index: int,
    loc: Location,
    fmt: str,
    out: Location,
    threads: bool,
    name: str = "",
    make_ids: str | None = None,
) -> list:
    """One source file into its parts (errors name the file, and the line for JSON);
    ``make_ids``: add that id column (``name#row``)."""
    writer = _PartWriter(out, index, loc.uri)
    done = 0
    try:
        if fmt == ARROW:
            tables = _arrow_tables(loc)
        elif fmt == CSV:
            tables = _grouped(iter_batches(loc.uri), loc)
        else:
            tables = iter_tables(loc, threads=threads)
        for first, table in tables:
            if make_ids:
                table = _with_ids(table, make_ids, name, done, loc.uri)
            done += table.num_rows
            writer.write(table, first, first + table.num_rows - 1)
    except JsonLinesError as exc:
        raise StagingError(str(exc)) from None
    except (pa.ArrowException, OSError) as exc:
        if isinstance(exc, CorpusError):
            raise
        raise StagingError(f"{loc.uri}: cannot be read as {fmt} ({exc})") from exc
    finally:
        parts = writer.close()
    return parts


# ------------------------------------------------------------------ staging a corpus


def converting_workers(files: int, memory_limit_mb: int, workers: int | None = None) -> int:
    """Files converted side by side: every core, no more than files, and no more than the
    memory setting (less what this process holds) leaves room for."""
    if workers is not None:
        return max(1, min(int(workers), files))
    room = (memory_limit_mb << 20) - resident_bytes()
    return max(1, min(available_cores(), files, int(room // WORKER_BYTES)))


def _committed(final: Location) -> dict | None:
    """The copy's commit record when the copy is whole: every part present with the size
    it was committed with (a check that does not grow with the data). A damaged copy is
    named and moved aside so it is rebuilt."""
    marker = read_marker(final.join(COMMIT))
    if not isinstance(marker, dict) or not isinstance(marker.get("parts"), list):
        return None
    paths = [final.join(name).path for name, _rows, _size in marker["parts"]]
    infos = final.fs.get_file_info(paths)
    bad = [
        posixpath.basename(i.path)
        for i, (_n, _r, size) in zip(infos, marker["parts"], strict=True)
        if i.type != pafs.FileType.File or i.size != size
    ]
    if not bad:
        return marker
    warnings.warn(
        f"staged corpus {final.uri} is damaged (missing or resized: {bad[:10]}); rebuilding",
        RuntimeWarning,
        2,
    )
    _remove(final, aside=True)
    return None


def _remove(loc: Location, aside: bool = False) -> None:
    if not loc.is_s3 and aside:
        os.replace(loc.path, f"{loc.path}.damaged-{uuid.uuid4().hex[:8]}")
    elif exists(loc):
        loc.fs.delete_dir(loc.path)


def stage_corpus(
    uri: str,
    root: str,
    memory_limit_mb: int = 512,
    workers: int | None = None,
    log: Callable[[str], None] | None = None,
    make_ids: str | None = None,
    map_files: "MapFiles | None" = None,
) -> StagedCorpus:
    """The parquet corpus to read for ``uri``: ``uri`` itself when it is parquet, else its
    staged copy under ``<root>/staging`` (converted now unless an unchanged copy exists).
    ``make_ids``: give the copy an id column of that name, ``<file>#<row>`` (for corpora
    whose records carry no id, such as DCLM-baseline). ``map_files`` runs the per-file
    conversions elsewhere (Ray tasks: :mod:`curation.engines.ray_staging`); the work
    directory must then be reachable from where they run."""
    log = log or _log_default
    sources = corpus_sources(uri)
    if not sources.needs_staging:
        if make_ids:
            raise StagingError(
                f"corpus {uri} is parquet, read in place: it must carry its own id column "
                "(ids made from file and row need a corpus that is staged: JSON lines, CSV, "
                "save_to_disk)"
            )
        return StagedCorpus(uri=uri, source=uri, format=sources.format)
    base = resolve(root).join(STAGING)
    n = converting_workers(len(sources.files), memory_limit_mb, workers)
    hashes = source_hashes(sources, base, n)
    key = content_key(sources.format, hashes, make_ids)
    final = base.join(key)
    if _committed(final) is not None:
        log(f"staging: reusing {final.uri} for {uri} ({len(hashes)} {sources.format} files)")
        return StagedCorpus(final.uri, uri, sources.format, key, reused=True)
    total = sum(size for _n, size, _h in hashes)
    log(
        f"staging: converting {len(hashes)} {sources.format} file(s) of {uri} "
        f"({total / 1e6:.1f} MB) {'as Ray tasks' if map_files else f'on {n} thread(s)'} "
        f"into {final.uri}"
    )
    # On S3 the parts are written in place: their names and bytes are fixed by the key, so a
    # racing run (or one after a crash) overwrites them with the same bytes, never deletes
    # a copy another run may already be reading.
    work = final if final.is_s3 else base.join(f".tmp-{key}-{uuid.uuid4().hex[:12]}")
    if not final.is_s3:
        work.fs.create_dir(work.path, recursive=True)
    try:
        parts = _convert_all(sources, hashes, work, n, log, make_ids, map_files)
        record = _finish(sources, hashes, key, work, parts, n)
        _publish(work, final, record)
    except BaseException:
        if not work.is_s3 and exists(work):
            shutil.rmtree(work.path, ignore_errors=True)
        raise
    return StagedCorpus(final.uri, uri, sources.format, key, reused=False)


def threads(n: int) -> MapFiles:
    """Run file conversions on ``n`` threads of this process, results in call order."""

    def run(fn: Callable, calls: list[tuple]) -> Iterator:
        pool = ThreadPoolExecutor(n, thread_name_prefix="stage")
        try:
            futures = [pool.submit(fn, *call) for call in calls]
            for future in futures:
                yield future.result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    return run


def _convert_all(
    sources, hashes, work: Location, n: int, log, make_ids=None, map_files=None
) -> list[Part]:
    """Every file converted (``n`` at a time on threads, or by ``map_files``: e.g. Ray
    tasks), progress logged as files finish."""
    started, done, done_bytes = time.monotonic(), 0, 0
    total = sum(size for _n, size, _h in hashes) or 1
    results: list[list[Part]] = []
    calls = [
        (i, f, sources.format, work, n == 1 and map_files is None, h[0], make_ids)
        for i, (f, h) in enumerate(zip(sources.files, hashes, strict=True))
    ]
    converted = (map_files or threads(n))(_convert_file, calls)
    for (name, size, _h), parts in zip(hashes, converted, strict=True):
        results.append(parts)
        done, done_bytes = done + 1, done_bytes + size
        elapsed = max(time.monotonic() - started, 1e-9)
        rate = done_bytes / elapsed
        log(
            f"staging: {done}/{len(hashes)} files ({name}), {done_bytes / 1e6:.1f} of "
            f"{total / 1e6:.1f} MB, {rate / 1e6:.1f} MB/s, "
            f"about {(total - done_bytes) / rate:.0f} s left"
        )
    parts = [p for file_parts in results for p in file_parts]
    if not parts:
        raise StagingError(f"corpus {sources.uri} is empty: its files hold no records")
    return parts


def _finish(sources, hashes, key, work: Location, parts: list[Part], n: int) -> dict:
    """Unify every part's schema (file order) and rewrite the parts that differ from it,
    row group by row group; the commit record lists each part with its size."""
    schema = unify_parts(parts)
    stale = [p for p in parts if not p.schema.equals(schema)]

    def rewrite(part: Part) -> None:
        src = work.join(part.name)
        tmp = work.join(f".{part.name}.rewrite")
        with src.fs.open_input_file(src.path) as f:
            pf = pq.ParquetFile(f)
            with pq.ParquetWriter(tmp.path, schema, filesystem=work.fs, **WRITER_OPTIONS) as w:
                for g in range(pf.num_row_groups):
                    table = conform(pf.read_row_group(g), schema)
                    w.write_table(table, row_group_size=max(1, table.num_rows))
        work.fs.move(tmp.path, src.path)

    with ThreadPoolExecutor(max(1, n)) as pool:
        list(pool.map(rewrite, stale))
    infos = work.fs.get_file_info([work.join(p.name).path for p in parts])
    return {
        "source": sources.uri,
        "format": sources.format,
        "key": key,
        "conversion": CONVERSION,
        "files": [list(h) for h in hashes],
        "rows": sum(p.rows for p in parts),
        "parts": [[p.name, p.rows, i.size] for p, i in zip(parts, infos, strict=True)],
        "schema": schema.to_string(show_schema_metadata=False),
    }


def _publish(work: Location, final: Location, record: dict) -> None:
    """Make the copy visible whole: locally the commit record goes in first and the
    directory is renamed into place (a racing run's equal copy wins, ours is dropped); on
    S3 the parts are already in place and the record, written last, commits them."""
    if final.is_s3:
        commit_marker(final.join(COMMIT), record)
        return
    commit_marker(work.join(COMMIT), record)
    try:
        os.rename(work.path, final.path)
    except OSError:
        if _committed(final) is None:
            if os.path.exists(final.path):
                _remove(final, aside=True)
            os.rename(work.path, final.path)
        else:
            shutil.rmtree(work.path, ignore_errors=True)
