"""What a scoring worker reads for itself: one parquet row group of the corpus.

Shipping every batch from the parent (read, copy, pipe) keeps one process busy beside the
workers; on 2 cores that capped scoring at ~1.65x one process. A worker given
``(file, row group)`` reads the text itself, so the parent only collects scores. Row groups
come in corpus order (files in listing order, groups in file order), the order of
:func:`curation.corpus.read.read_ids`.
"""

from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from curation.corpus.read import CorpusError, format_of, list_corpus_files
from curation.storage import resolve


@dataclass(frozen=True)
class RowGroup:
    """One row group of one corpus file, and how to read its texts."""

    uri: str
    group: int
    rows: int
    id_column: str
    text_column: str
    null_texts: str
    batch_size: int


def parquet_row_groups(
    uri: str, id_column: str, text_column: str, null_texts: str, batch_size: int
) -> list[RowGroup] | None:
    """Every non-empty row group of the corpus, in order; None unless all files are parquet."""
    files = list_corpus_files(uri)
    if not files or any(format_of(f.path) != "parquet" for f in files):
        return None
    units = []
    for loc in files:
        with loc.fs.open_input_file(loc.path) as f:
            meta = pq.ParquetFile(f).metadata
        for g in range(meta.num_row_groups):
            rows = meta.row_group(g).num_rows
            if rows:
                units.append(
                    RowGroup(loc.uri, g, rows, id_column, text_column, null_texts, batch_size)
                )
    return units


def read_row_group(unit: RowGroup) -> Iterator[pa.Array]:
    """The row group's texts, batch by batch, checked as every scorer input is."""
    loc = resolve(unit.uri)
    columns = [unit.id_column, unit.text_column]
    try:
        with loc.fs.open_input_file(loc.path) as f:
            pf = pq.ParquetFile(f)
            for batch in pf.iter_batches(unit.batch_size, row_groups=[unit.group], columns=columns):
                yield checked_text(
                    unit.uri, batch.select(columns), unit.text_column, unit.null_texts
                )
    except (pa.ArrowException, OSError) as exc:
        raise CorpusError(f"{unit.uri}: corrupt or truncated parquet file ({exc})") from exc


def checked_text(uri: str, batch: pa.RecordBatch, text_column: str, null_texts: str) -> pa.Array:
    """The text column of an (id, text) batch; null texts are refused naming their ids,
    unless ``null_texts="empty"`` says to score them as empty documents."""
    text = batch.column(1)
    if not (pa.types.is_string(text.type) or pa.types.is_large_string(text.type)):
        raise CorpusError(
            f"{uri}: text column {text_column!r} has type {text.type}, expected strings"
        )
    if text.null_count and null_texts != "empty":
        ids = batch.column(0).filter(text.is_null())[:10].to_pylist()
        raise CorpusError(
            f"{uri}: {text.null_count} document(s) in this batch have a null {text_column!r} "
            f"(ids {ids}); fix the corpus or score them as empty with null_texts='empty'"
        )
    return text
