"""Read raw corpora (jsonl[.gz|.zst], parquet, csv; one file or a directory; local or s3://).

The global row index -- files in name order, rows in file order, counted from 0 -- is the
identity every later stage uses, so reading is deterministic and never reorders rows.
Everything streams in Arrow record batches so memory stays bounded by the batch size.
"""

import codecs
import csv
import errno
import hashlib
import json
import math
import os
import posixpath
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from curation.corpus.ids import IdTypeError, normalize_ids
from curation.storage import Location, list_files, resolve
from curation.storage.hashing import sha256_of

PARQUET_SUFFIXES = (".parquet", ".pq")
JSONL_SUFFIXES = tuple(
    base + codec
    for base in (".jsonl", ".ndjson", ".json")
    for codec in ("", ".gz", ".zst", ".zstd")
)
CSV_SUFFIXES = (".csv", ".csv.gz")
DATA_SUFFIXES = PARQUET_SUFFIXES + JSONL_SUFFIXES + CSV_SUFFIXES
MAX_LISTED = 10
_BLOCK = 1 << 20
_FIRST_BLOCK = 16 * _BLOCK
_MAX_BLOCK = 1 << 30  # pyarrow block sizes are int32


class CorpusError(ValueError):
    """A corpus that cannot be read as documents with unique ids."""


def _fmt(items: list) -> str:
    shown = ", ".join(repr(i) for i in items[:MAX_LISTED])
    more = f" (and {len(items) - MAX_LISTED} more)" if len(items) > MAX_LISTED else ""
    return shown + more


def format_of(name: str) -> str | None:
    lower = name.lower()
    for fmt, suffixes in (
        ("parquet", PARQUET_SUFFIXES),
        ("jsonl", JSONL_SUFFIXES),
        ("csv", CSV_SUFFIXES),
    ):
        if lower.endswith(suffixes):
            return fmt
    return None


def _unreadable_entries(loc: Location) -> list[str]:
    """Entries with a data-file name that are not regular files: dangling or looping links,
    directories named ``*.parquet``; refused by name rather than skipped."""
    if loc.is_s3:
        return []
    bad = []
    for entry in sorted(os.listdir(loc.path)):
        path = os.path.join(loc.path, entry)
        if format_of(entry) is None or entry.startswith((".", "_")) or os.path.isfile(path):
            continue
        if os.path.islink(path):
            try:
                os.stat(path)
                why = "a link to something that is not a file"
            except OSError as exc:
                why = "a dangling link" if exc.errno == errno.ENOENT else f"a broken link ({exc})"
        else:
            why = "a directory" if os.path.isdir(path) else "not a regular file"
        bad.append(f"{entry} ({why})")
    return bad


def list_corpus_files(uri: str) -> list[Location]:
    """Data files of a corpus in name order; other files in a directory are ignored, but an
    entry with a data-file name that cannot be read as a file is an error naming it."""
    loc = resolve(uri)
    try:
        files = list_files(loc)
    except FileNotFoundError as exc:
        raise CorpusError(f"corpus not found: {exc}") from exc
    if len(files) == 1 and files[0].path == loc.path:
        if format_of(loc.path) is None:
            raise CorpusError(f"unsupported corpus file {loc.uri}; use one of {DATA_SUFFIXES}")
        return files
    bad = _unreadable_entries(loc)
    if bad:
        raise CorpusError(f"{loc.uri}: entries that are not readable data files: {_fmt(bad)}")
    data = [
        f
        for f in files
        if format_of(f.path) is not None and not posixpath.basename(f.path).startswith((".", "_"))
    ]
    if not data:
        names = [posixpath.basename(f.path) for f in files]
        raise CorpusError(
            f"no corpus files ({', '.join(DATA_SUFFIXES)}) in {loc.uri}; "
            f"found: {_fmt(names) or 'nothing'}"
        )
    return data


class _Utf8CheckingReader:
    """File wrapper that validates UTF-8 while pyarrow reads, so text is read only once.

    pyarrow's JSON reader silently replaces invalid bytes with U+FFFD; we want an error
    that says where the bad byte is.
    """

    def __init__(self, raw, uri: str):
        self._raw = raw
        self._uri = uri
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._offset = 0
        self._lines = 0
        self.error: CorpusError | None = None
        self.closed = False

    def read(self, nbytes: int = -1) -> bytes:
        data = self._raw.read(nbytes if nbytes is not None and nbytes >= 0 else -1)
        if self.error is not None:
            return b""
        try:
            self._decoder.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            pos = self._offset + exc.start
            line = self._lines + data.count(b"\n", 0, max(exc.start, 0)) + 1
            self.error = CorpusError(
                f"{self._uri}: invalid UTF-8 byte {data[exc.start : exc.start + 1]!r} at byte "
                f"offset {pos} (line {line}); re-encode the file as UTF-8"
            )
            return b""
        self._offset += len(data)
        self._lines += data.count(b"\n")
        return data

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        self.closed = True
        self._raw.close()


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "number", float: "number", str: "string"}.get(
        type(value), type(value).__name__
    )


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} does not fit a 64-bit float")
    return value


def _int64(text: str) -> int:
    value = int(text)
    if not -(1 << 63) <= value < (1 << 63):
        raise ValueError(f"number {text} does not fit a 64-bit integer")
    return value


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON (write a number, or null for no value)")


def _find_broken_json_line(loc: Location, parser_error: Exception) -> str:
    """Error path only: scan the file to name the first line that is not a JSON object, holds
    a number no 64-bit type can hold (``1e309``) or a NaN/Infinity, or whose field has
    another type than on earlier lines (mixed int/str ids)."""
    kinds: dict[str, tuple[str, int]] = {}
    with loc.fs.open_input_stream(loc.path, compression="detect") as f:
        for number, line in enumerate(f.read().split(b"\n"), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(
                    line,
                    parse_float=_finite_float,
                    parse_int=_int64,
                    parse_constant=_no_constant,
                )
            except ValueError as exc:
                return f"line {number} is not valid JSON ({exc}): {line[:80]!r}"
            if not isinstance(row, dict):
                return f"line {number} is not a JSON object: {line[:80]!r}"
            for key, value in row.items():
                kind = _json_kind(value)
                first = kinds.setdefault(key, (kind, number))
                if "null" not in (kind, first[0]) and kind != first[0]:
                    return (
                        f"field {key!r} is a {kind} on line {number} but a {first[0]} on line "
                        f"{first[1]}; a column must have one type (quote ids to keep strings)"
                    )
                if first[0] == "null":
                    kinds[key] = (kind, number)
    return f"the JSON parser said: {parser_error}"


class _BlockTooSmall(Exception):
    """A line (one document) is longer than the parser's block: retry with a bigger block."""


def _csv_header(loc: Location) -> list[str]:
    """Column names from the first line (the reader is then told every column is text)."""
    with loc.fs.open_input_stream(loc.path, compression="detect") as f:
        head = f.read(1 << 20)
    line = head.split(b"\n", 1)[0].decode("utf-8", errors="replace").rstrip("\r")
    return next(csv.reader([line]), []) if line else []


def _open_text_reader(checked: "_Utf8CheckingReader", fmt: str, block: int, loc: Location):
    """CSV columns are read as text, never inferred: ``007`` stays ``"007"`` and
    ``2024-01-01`` stays a string (numbers are parsed later by the stage that wants them)."""
    if fmt == "jsonl":
        return pajson.open_json(checked, read_options=pajson.ReadOptions(block_size=block))
    types = {name: pa.string() for name in _csv_header(loc)}
    return pacsv.open_csv(
        checked,
        read_options=pacsv.ReadOptions(block_size=block),
        convert_options=pacsv.ConvertOptions(column_types=types),
    )


def _parse_text(loc: Location, fmt: str, block: int) -> Iterator[pa.RecordBatch]:
    """One parse of a text file with a fixed block size; errors become CorpusError."""
    raw = loc.fs.open_input_stream(loc.path, compression="detect")
    checked = _Utf8CheckingReader(raw, loc.uri)
    try:
        try:
            for batch in _open_text_reader(checked, fmt, block, loc):
                if checked.error is not None:
                    raise checked.error
                yield batch
        except pa.ArrowException as exc:
            if checked.error is not None:
                raise checked.error from None
            if "straddl" in str(exc):
                raise _BlockTooSmall() from exc
            if str(exc).startswith(("Empty JSON", "Empty CSV")):
                return  # an empty file holds no documents; an empty corpus is reported later
            if fmt == "jsonl":
                raise CorpusError(
                    f"{loc.uri}: broken JSON lines file: {_find_broken_json_line(loc, exc)}"
                ) from exc
            raise CorpusError(f"{loc.uri}: cannot parse CSV: {exc}") from exc
        if checked.error is not None:
            raise checked.error
    finally:
        checked.close()


def _text_batches(loc: Location, fmt: str, batch_size: int) -> Iterator[pa.RecordBatch]:
    """Stream a jsonl/csv file; a document longer than the block restarts the parse with a
    4x larger block, skipping the rows already yielded (parsing is deterministic)."""
    block, done = _FIRST_BLOCK, 0
    while True:
        seen = 0
        try:
            for batch in _parse_text(loc, fmt, block):
                skip = min(max(done - seen, 0), batch.num_rows)
                seen += batch.num_rows
                if skip < batch.num_rows:
                    done += batch.num_rows - skip
                    yield from _rebatch(batch.slice(skip), batch_size)
            return
        except _BlockTooSmall:
            if block >= _MAX_BLOCK:
                raise CorpusError(
                    f"{loc.uri}: a line after row {seen} is longer than "
                    f"{_MAX_BLOCK >> 20} MiB; split the document"
                ) from None
            block = min(block * 4, _MAX_BLOCK)


def _rebatch(batch: pa.RecordBatch, batch_size: int) -> Iterator[pa.RecordBatch]:
    for start in range(0, batch.num_rows, batch_size):
        yield batch.slice(start, batch_size)


def _parquet_batches(
    loc: Location, columns: list[str] | None, batch_size: int
) -> Iterator[pa.RecordBatch]:
    try:
        with loc.fs.open_input_file(loc.path) as f:
            pf = pq.ParquetFile(f, pre_buffer=False)  # pre-buffering read ahead ~100 MB a file
            _check_columns(loc, pf.schema_arrow.names, columns)
            yield from pf.iter_batches(batch_size=batch_size, columns=columns)
    except (pa.ArrowException, OSError) as exc:
        if isinstance(exc, CorpusError):
            raise
        raise CorpusError(f"{loc.uri}: corrupt or truncated parquet file ({exc})") from exc


def _check_columns(loc: Location, present: list[str], wanted: list[str] | None) -> None:
    missing = [c for c in wanted or [] if c not in present]
    if missing:
        raise CorpusError(
            f"{loc.uri}: missing column(s) {_fmt(missing)}; columns present: {_fmt(list(present))}"
        )


def _file_batches(
    loc: Location, columns: list[str] | None, batch_size: int
) -> Iterator[pa.RecordBatch]:
    fmt = format_of(loc.path)
    if fmt == "parquet":
        yield from _parquet_batches(loc, columns, batch_size)
        return
    for batch in _text_batches(loc, fmt, batch_size):
        if columns is not None:
            _check_columns(loc, batch.schema.names, columns)
            batch = batch.select(columns)
        yield batch


def iter_batches(
    uri: str, columns: list[str] | None = None, batch_size: int = 8192
) -> Iterator[pa.RecordBatch]:
    """Stream the corpus as record batches in global row order.

    Later files are cast to the first file's schema so consumers see one schema.
    """
    schema: pa.Schema | None = None
    for loc in list_corpus_files(uri):
        for batch in _file_batches(loc, columns, batch_size):
            if schema is None:
                schema = batch.schema
            elif batch.schema != schema:
                batch = _conform(loc, batch, schema)
            if batch.num_rows:
                yield batch


def _conform(loc: Location, batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    if set(batch.schema.names) != set(schema.names):
        raise CorpusError(
            f"{loc.uri}: columns {batch.schema.names} differ from the first "
            f"file's columns {schema.names}"
        )
    try:
        return batch.select(schema.names).cast(schema)
    except (pa.ArrowException, ValueError) as exc:
        raise CorpusError(
            f"{loc.uri}: column types {batch.schema} do not match the first file's types {schema}"
        ) from exc


def read_ids(uri: str, id_column: str = "id", check_unique: bool = True) -> pa.Array:
    """The id column in global row order, validated: string or int64, no nulls, unique.

    ``check_unique=False`` skips the uniqueness pass (a hash of every id, ~3 s at 10^7) for
    callers holding a corpus version whose ids were already found unique (``CorpusRef``).
    """
    chunks = [b.column(0) for b in iter_batches(uri, columns=[id_column])]
    if not chunks or sum(len(c) for c in chunks) == 0:
        raise CorpusError(f"corpus {uri} is empty: no rows")
    ids = pa.chunked_array(chunks).combine_chunks()
    ids = _normalize_id_type(uri, id_column, ids)
    if ids.null_count:
        rows = pc.indices_nonzero(ids.is_null()).to_pylist()
        raise CorpusError(
            f"{uri}: {ids.null_count} null value(s) in id column {id_column!r} at rows {_fmt(rows)}"
        )
    if not check_unique:
        return ids
    counts = pc.value_counts(ids)
    repeated = counts.field("values").filter(pc.greater(counts.field("counts"), 1))
    if len(repeated):
        raise CorpusError(
            f"{uri}: {len(repeated)} id(s) occur more than once in column "
            f"{id_column!r}: {_fmt(repeated[:MAX_LISTED].to_pylist())}"
        )
    return ids


def _normalize_id_type(uri: str, id_column: str, ids: pa.Array) -> pa.Array:
    try:
        return normalize_ids(ids, id_column)
    except IdTypeError as exc:
        raise CorpusError(f"{uri}: {exc}") from None


def duplicate_values(values: pa.Array, limit: int = MAX_LISTED) -> list:
    """Up to ``limit`` values that occur more than once (vectorised with value_counts)."""
    counts = pc.value_counts(values)
    repeated = counts.filter(pc.greater(counts.field("counts"), 1))
    return repeated.field("values")[:limit].to_pylist()


def corpus_version(uri: str) -> str:
    """Short content hash of the corpus: file names, sizes and content, streamed.

    Names are taken relative to the corpus root, so moving a corpus keeps its version.
    """
    digest = hashlib.sha256()
    for loc in list_corpus_files(uri):
        content, size = sha256_of(loc)
        digest.update(f"{posixpath.basename(loc.path)}\0{size}\0{content}\n".encode())
    return digest.hexdigest()[:16]


class CorpusChanged(CorpusError):
    """The corpus bytes differ from the version a run computed earlier (edited mid-run)."""


def assert_unchanged(uri: str, version: str) -> None:
    """Raise :class:`CorpusChanged` (naming the corpus) if its bytes no longer give
    ``version``: a step about to read it must not mix two corpora in one run."""
    now = corpus_version(uri)
    if now != version:
        raise CorpusChanged(
            f"corpus {uri} changed during the run: it was version {version}, its files now "
            f"give {now}; rerun from the corpus step (or keep the corpus immutable per run)"
        )
