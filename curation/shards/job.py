"""One reorder job: the checked ordering and everything every unit of work shares.

A :class:`ShardJob` is built once (rows checked, extra columns checked, output schema and
row-group size fixed, data budget measured) and then handed to each unit -- a gathered
shard, a scattered source file, a shard written from its spill -- so no unit re-derives
or re-checks what another already did, and every unit writes the same bytes.
"""

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from curation.shards.columns import POSITION, RESERVED_PREFIX
from curation.shards.errors import RowsError, ShardError
from curation.shards.layout import CorpusLayout, corpus_layout
from curation.shards.memory import DEFAULT_MEMORY_LIMIT, PASS_COPIES, data_budget
from curation.shards.plan import ShardSpec, default_row_group_rows, plan_passes


def validate_rows(rows: Any, n_rows: int, subset: bool = False) -> np.ndarray:
    """Return ``rows`` as int64, or raise :class:`RowsError` naming up to 10 positions.
    ``subset``: distinct corpus rows, not necessarily all of them (a recipe's selection)."""
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
    if arr.size != n_rows and not subset:
        seen = np.zeros(n_rows, dtype=bool)
        seen[arr] = True
        missing = np.flatnonzero(~seen)
        raise RowsError(
            f"rows has {arr.size} positions but the corpus has {n_rows} rows; "
            f"not a permutation: missing corpus rows {missing[:10].tolist()}"
        )
    return arr


def inverse_permutation(rows: np.ndarray, n_rows: int | None = None) -> np.ndarray:
    """``pos[r]`` = output position of corpus row ``r``; -1 for the corpus rows that
    ``rows`` leaves out when it holds fewer than ``n_rows`` (a selection's subset)."""
    rows = np.asarray(rows, dtype=np.int64)
    n = rows.size if n_rows is None else int(n_rows)
    pos = np.empty(n, dtype=np.int64) if n == rows.size else np.full(n, -1, dtype=np.int64)
    pos[rows] = np.arange(rows.size, dtype=np.int64)
    return pos


def check_extra(extra: dict[str, Any] | None, n: int, schema: pa.Schema) -> dict[str, pa.Array]:
    """Extra per-position columns as Arrow arrays of length ``n`` that clash with nothing."""
    out: dict[str, pa.Array] = {}
    for name, values in (extra or {}).items():
        if not name.startswith(RESERVED_PREFIX) or name in schema.names or name == POSITION:
            raise ShardError(
                f"extra column {name!r} must be a reserved name ({RESERVED_PREFIX}...) other "
                f"than {POSITION!r}: what the pipeline adds never shares a corpus column's name"
            )
        arr = pa.array(np.asarray(values)) if not isinstance(values, pa.Array) else values
        if len(arr) != n:
            raise ShardError(f"extra column {name!r} has {len(arr)} values, expected {n}")
        out[name] = arr
    return out


@dataclass(frozen=True, eq=False)
class ShardJob:
    """A checked ordering of one corpus, ready to write: ``rows[p]`` is the corpus row at
    output position ``p``; ``positions`` its inverse (bucket strategy only);
    ``data_bytes`` the Arrow data each concurrent unit may hold; ``bucket_rows`` the span of
    one spill bucket (a multiple of ``row_group_rows``, fixed by the cap alone, so every
    unit of a run agrees on it whatever it measures)."""

    layout: CorpusLayout
    rows: np.ndarray
    extra: dict[str, pa.Array]
    schema: pa.Schema
    row_group_rows: int
    data_bytes: float
    bucket_rows: int
    positions: np.ndarray | None = None

    @classmethod
    def prepare(
        cls,
        corpus: str | os.PathLike | CorpusLayout,
        rows: Any,
        *,
        memory_limit_bytes: int = DEFAULT_MEMORY_LIMIT,
        extra_columns: dict[str, Any] | None = None,
        row_group_rows: int | None = None,
        baseline_bytes: int | None = None,
        workers: int = 1,
        positions: np.ndarray | bool = False,
        checked: bool = False,
        subset: bool = False,
    ) -> "ShardJob":
        """Check ``rows`` (unless ``checked``: they already passed :func:`validate_rows`;
        ``subset``: they may leave corpus rows out), build the inverse when ``positions`` is
        True (or take the one given; -1 marks rows left out), then measure
        the budget, so the resident set it subtracts holds every array the job keeps."""
        layout = corpus if isinstance(corpus, CorpusLayout) else corpus_layout(corpus)
        if checked:
            arr = np.asarray(rows, dtype=np.int64)
        else:
            arr = validate_rows(rows, layout.n_rows, subset=subset)
        if isinstance(positions, np.ndarray):
            pos = np.asarray(positions, dtype=np.int64)
        else:
            pos = inverse_permutation(arr, layout.n_rows) if positions else None
        extra = check_extra(extra_columns, arr.size, layout.schema)
        # row groups follow the total limit, so the bytes do not depend on ``workers``
        rg_rows = row_group_rows or default_row_group_rows(layout, memory_limit_bytes)
        data = data_budget(memory_limit_bytes, layout, rg_rows, baseline_bytes, workers)
        buckets = bucket_rows_for(layout, rg_rows, memory_limit_bytes)
        return cls(layout, arr, extra, output_schema(layout, extra), rg_rows, data, buckets, pos)

    def passes(self, spec: ShardSpec, unit_rows: int | None = None) -> list[tuple[int, int]]:
        """Passes for one shard: a source row group, and output tables held about four
        times (one pass encoded while the next is read and reordered) within the data
        budget. Passes cut at multiples of ``unit_rows`` (spill buckets) where one unit
        fits, else at output row groups."""
        src = self.rows[spec.start : spec.stop]
        est = self.layout.bytes_per_row()[self.layout.row_group_of(src)]
        biggest = float(self.layout.rg_bytes.max()) if self.layout.rg_bytes.size else 0.0
        budget = max((self.data_bytes - biggest) / PASS_COPIES, 1.0)
        if unit_rows and est.size:
            units = np.add.reduceat(est, np.arange(0, est.size, unit_rows))
            if units.max() <= budget:
                return plan_passes(est, unit_rows, budget)
        return plan_passes(est, self.row_group_rows, budget)

    def finish(self, table: pa.Table, first: int) -> pa.Table:
        """Append ``position`` (if missing) and the extra columns for positions ``first..``,
        in the output schema's order and types."""
        n = table.num_rows
        if POSITION not in table.column_names:
            positions = np.arange(first, first + n, dtype=np.int64)
            table = table.append_column(POSITION, pa.array(positions))
        for name, values in self.extra.items():
            table = table.append_column(name, values.slice(first, n))
        return table.select(self.schema.names).cast(self.schema)


def bucket_rows_for(layout: CorpusLayout, row_group_rows: int, memory_limit_bytes: int) -> int:
    """Rows per spill bucket: whole output row groups, about 1/16 of the cap in bytes."""
    groups = (memory_limit_bytes / 16) // (row_group_rows * layout.mean_row_bytes())
    return int(row_group_rows * max(1, groups))


def output_schema(layout: CorpusLayout, extra: dict[str, pa.Array]) -> pa.Schema:
    """Corpus columns, then ``position``, then the extra columns."""
    fields = list(layout.schema) + [pa.field(POSITION, pa.int64())]
    return pa.schema(fields + [pa.field(k, v.type) for k, v in extra.items()])
