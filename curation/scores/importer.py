"""Import an external score table (parquet, jsonl, csv; local or s3://) as id + float64 columns.

Parquet goes straight through ``pyarrow.parquet.read_table`` (multi-threaded, the floor we
benchmark against); text formats stream through :mod:`curation.corpus.read`. Numbers stored as
strings are parsed with a vectorised cast; only the error path looks for the bad values.
"""

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curation.corpus.ids import IdTypeError, normalize_ids
from curation.corpus.read import CorpusError, format_of, iter_batches, list_corpus_files
from curation.scores.errors import MAX_IDS, ScoreError

_NUMBER = r"^[+-]?((\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?|inf|infinity|nan)$"


def _read_table(uri: str, columns: list[str] | None = None) -> pa.Table:
    """The table (only ``columns`` when given and present: a corpus used as its own score
    table is read as id + scores, never its text)."""
    try:
        files = list_corpus_files(uri)
        tables = []
        for loc in files:
            if format_of(loc.path) == "parquet":
                tables.append(_read_parquet(loc, columns))
            else:
                batches = list(iter_batches(loc.uri))
                if batches:  # an empty text file holds no rows (and no schema)
                    table = pa.Table.from_batches(batches)
                    keep = [c for c in columns or table.column_names if c in table.column_names]
                    tables.append(table.select(keep))
    except CorpusError as exc:  # the listing speaks of a corpus; this file is a score table
        raise ScoreError(
            "unreadable", str(exc).replace("corpus not found", "score table not found")
        ) from exc
    if not tables:
        raise ScoreError("empty_table", f"the score table {uri} has no rows")
    if len(tables) == 1:
        return tables[0]
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except pa.ArrowException as exc:
        raise ScoreError("schema_mismatch", f"score files under {uri} disagree: {exc}") from exc


def _read_parquet(loc, columns: list[str] | None = None) -> pa.Table:
    try:
        if columns is not None:
            present = pq.read_schema(loc.path, filesystem=loc.fs).names
            if not set(columns) <= set(present):
                columns = None  # error path: read it all so the message names what is there
        return pq.read_table(loc.path, filesystem=loc.fs, columns=columns)
    except (pa.ArrowException, OSError) as exc:
        raise CorpusError(f"{loc.uri}: corrupt or truncated parquet file ({exc})") from exc


def id_array(values: pa.ChunkedArray | pa.Array, column: str) -> pa.Array:
    """Ids as string or int64 (:func:`curation.corpus.ids.normalize_ids`); else ``wrong_type``."""
    try:
        return normalize_ids(values, column)
    except IdTypeError as exc:
        raise ScoreError("wrong_type", str(exc), column=column) from None


_EXACT = 2**53  # integers beyond this lose precision as float64


def _exact_floats(values: pa.ChunkedArray, ids: pa.Array, column: str) -> pa.ChunkedArray:
    """Integer scores as float64, refused (naming ids) where float64 cannot hold them exactly."""
    limit = pa.scalar(_EXACT, values.type) if pa.types.is_uint64(values.type) else _EXACT
    big = pc.greater(
        pc.abs(values) if not pa.types.is_unsigned_integer(values.type) else values, limit
    )
    if pc.any(big).as_py():
        raise ScoreError(
            "precision",
            f"{pc.sum(big).as_py()} integer score(s) exceed 2^53 and would change value as "
            f"float64 (e.g. {values.filter(big)[0].as_py()}); rescale them",
            column=column,
            ids=ids.filter(big)[:MAX_IDS].to_pylist(),
        )
    return values.cast(pa.float64())


def parse_scores(values: pa.ChunkedArray, ids: pa.ChunkedArray, column: str) -> pa.ChunkedArray:
    """A score column as float64; strings are parsed, unparsable ones are reported by id."""
    kind = values.type
    if pa.types.is_boolean(kind) or not (
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_decimal(kind)
        or pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_null(kind)
    ):
        raise ScoreError("wrong_type", f"scores must be numbers, got {kind}", column=column)
    if pa.types.is_integer(kind):
        return _exact_floats(values, ids, column)
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        return values.cast(pa.float64())
    trimmed = pc.utf8_trim_whitespace(values)
    try:
        return pc.cast(trimmed, pa.float64())
    except pa.ArrowInvalid:
        valid = pc.match_substring_regex(trimmed, _NUMBER, ignore_case=True)
        bad = pc.and_kleene(pc.invert(valid), pc.is_valid(trimmed))
        bad_ids = ids.filter(bad)[:MAX_IDS].to_pylist()
        examples = trimmed.filter(bad)[:3].to_pylist()
        raise ScoreError(
            "unparsable",
            f"{pc.sum(bad).as_py() or 'some'} value(s) are not numbers, e.g. {examples!r}",
            column=column,
            ids=bad_ids,
        ) from None


def import_scores(
    uri: str, id_column: str = "id", score_columns: list[str] | None = None
) -> pa.Table:
    """Read a score table: output has an ``id`` column and float64 score columns. With
    ``score_columns`` only those (and the ids) are read from parquet."""
    raw = _read_table(uri, [id_column, *score_columns] if score_columns else None)
    if id_column not in raw.column_names:
        raise ScoreError(
            "missing_id_column",
            f"{uri} has no id column; columns present: {raw.column_names}",
            column=id_column,
        )
    names = score_columns or [c for c in raw.column_names if c != id_column]
    missing = [c for c in names if c not in raw.column_names]
    if missing:
        raise ScoreError(
            "missing_column",
            f"{uri} lacks score column(s) {missing}; columns present: {raw.column_names}",
            column=missing[0],
        )
    if not names:
        raise ScoreError("no_score_columns", f"{uri} has only the id column")
    ids = id_array(raw.column(id_column), id_column)
    if ids.null_count:
        rows = pc.indices_nonzero(ids.is_null())[:MAX_IDS].to_pylist()
        raise ScoreError(
            "null_ids", f"{ids.null_count} row(s) without an id, at rows {rows}", column=id_column
        )
    columns = [parse_scores(raw.column(c), ids, c) for c in names]
    return pa.table([ids, *columns], names=["id", *names])
