"""Where every corpus row lives (from parquet footers alone), and reading its row groups."""

import os
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curation.corpus.read import CorpusError, format_of, list_corpus_files
from curation.shards.columns import POSITION, RESERVED_PREFIX, reserved_names
from curation.shards.errors import CorpusFormatError
from curation.storage import Location, resolve


@dataclass(frozen=True, eq=False)
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

    def mean_row_bytes(self) -> float:
        """Uncompressed bytes of an average row (at least 1)."""
        return max(self.total_bytes / max(self.n_rows, 1), 1.0)

    def row_group_of(self, rows: np.ndarray) -> np.ndarray:
        """Global row group index holding each global row."""
        return np.searchsorted(self.rg_start, rows, side="right") - 1


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
            "(random access by row group): convert them first, e.g. with curation.corpus.read."
            "iter_batches and pyarrow.parquet.ParquetWriter"
        )
    schema, rg_file, rg_local, counts, sizes, mismatched = None, [], [], [], [], []
    for i, f in enumerate(files):  # loops over files and row groups, never rows
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
    reserved = reserved_names(schema.names)
    if reserved:
        raise CorpusFormatError(
            f"corpus {loc.uri} has column(s) {reserved} under the prefix {RESERVED_PREFIX!r}, "
            f"which is reserved for the columns the pipeline adds to shards ({POSITION!r}, ...); "
            "rename them"
        )
    return CorpusLayout(
        files=files,
        schema=schema,
        rg_file=np.asarray(rg_file, dtype=np.int64),
        rg_local=np.asarray(rg_local, dtype=np.int64),
        rg_start=np.concatenate([[0], np.cumsum(counts, dtype=np.int64)]).astype(np.int64),
        rg_bytes=np.asarray(sizes, dtype=np.float64),
    )


class SourceReader:
    """Opens corpus files lazily and reads row groups, whole or one column at a time.
    Every read error names the damaged file and row group."""

    def __init__(self, layout: CorpusLayout, chunk_limit: float):
        self.layout = layout
        self.chunk_limit = chunk_limit  # row groups above this are read column by column
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

    def read(self, rg: int) -> pa.Table:
        """Global row group ``rg`` whole."""
        try:
            pf = self._file(int(self.layout.rg_file[rg]))
            return pf.read_row_group(int(self.layout.rg_local[rg])).replace_schema_metadata(None)
        except (OSError, pa.ArrowException) as exc:
            raise self._corrupt(rg, exc) from exc

    def close(self) -> None:
        self._files.clear()

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
