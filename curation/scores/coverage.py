"""Exact score coverage: every corpus id has one finite score and no score names an unknown id.

The join is vectorised with ``pyarrow.compute.index_in`` (a hash join on the id column), so
aligning 10^7 scores costs a few hash-table passes, not a Python loop.
"""

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation.corpus import duplicate_values
from curation.scores.errors import MAX_IDS, ScoreError

QUANTILES = {"p01": 0.01, "p10": 0.10, "p50": 0.50, "p90": 0.90, "p99": 0.99}


def _as_array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def _id_kind(values: pa.Array) -> str | None:
    if pa.types.is_integer(values.type):
        return "int"
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        return "str"
    return None


def _matching_ids(corpus_ids: pa.Array, table: pa.Table) -> tuple[pa.Array, pa.Array]:
    """Both id arrays in one common type, or a ``wrong_type`` error."""
    if table.num_rows == 0:
        raise ScoreError("empty_table", "the score table has no rows")
    if "id" not in table.column_names:
        raise ScoreError("missing_id_column", f"columns present: {table.column_names}", column="id")
    corpus_ids = _as_array(corpus_ids)
    score_ids = _as_array(table.column("id"))
    kinds = (_id_kind(corpus_ids), _id_kind(score_ids))
    if None in kinds or kinds[0] != kinds[1]:
        raise ScoreError(
            "wrong_type",
            f"corpus ids are {corpus_ids.type} but score ids are "
            f"{score_ids.type}; both must be strings or both integers",
            column="id",
        )
    common = pa.int64() if kinds[0] == "int" else pa.string()
    return corpus_ids.cast(common), score_ids.cast(common)


def _score_values(table: pa.Table, column: str) -> pa.Array:
    if column not in table.column_names:
        raise ScoreError("missing_column", f"columns present: {table.column_names}", column=column)
    values = _as_array(table.column(column))
    if not (pa.types.is_floating(values.type) or pa.types.is_integer(values.type)):
        raise ScoreError(
            "wrong_type",
            f"scores must be numeric, got {values.type}; use import_scores to parse strings",
            column=column,
        )
    return values.cast(pa.float64())


def align_scores(corpus_ids: pa.Array, table: pa.Table, column: str) -> np.ndarray:
    """Scores of ``column`` in corpus row order (float64), after exact coverage checks."""
    corpus_ids, score_ids = _matching_ids(corpus_ids, table)
    values = _score_values(table, column)
    dupes = duplicate_values(score_ids)
    if dupes:
        raise ScoreError(
            "duplicate_ids", "ids appear more than once in the score table", column="id", ids=dupes
        )
    unknown = score_ids.filter(pc.invert(pc.is_in(score_ids, value_set=corpus_ids)))
    if len(unknown):
        raise ScoreError(
            "unknown_ids",
            f"{len(unknown)} score row(s) name ids not in the corpus",
            column="id",
            ids=unknown[:MAX_IDS].to_pylist(),
        )
    positions = pc.index_in(corpus_ids, value_set=score_ids)
    if positions.null_count:
        missing = corpus_ids.filter(positions.is_null())
        raise ScoreError(
            "missing_scores",
            f"{len(missing)} corpus id(s) have no score",
            column=column,
            ids=missing[:MAX_IDS].to_pylist(),
        )
    aligned = values.take(positions).to_numpy(zero_copy_only=False)
    bad = ~np.isfinite(aligned)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise ScoreError(
            "non_finite",
            f"{rows.size} score(s) are NaN, infinite or null",
            column=column,
            ids=corpus_ids.take(rows[:MAX_IDS]).to_pylist(),
        )
    return aligned.astype(np.float64, copy=False)


def _column_stats(values: np.ndarray) -> dict:
    finite = values[np.isfinite(values)]
    stats: dict = {"count": int(values.size), "non_finite": int(values.size - finite.size)}
    if finite.size:
        qs = np.quantile(finite, list(QUANTILES.values()))
        stats.update(min=float(finite.min()), max=float(finite.max()), mean=float(finite.mean()))
        stats.update({k: float(q) for k, q in zip(QUANTILES, qs, strict=True)})
    return stats


def coverage_report(corpus_ids: pa.Array, table: pa.Table, columns: list[str]) -> dict:
    """Coverage counts and per-column statistics for metadata; never raises."""
    report: dict = {"rows": len(corpus_ids), "score_rows": table.num_rows}
    try:
        corpus, scores = _matching_ids(corpus_ids, table)
        counts = pc.value_counts(scores)
        report["duplicates"] = int(pc.sum(pc.greater(counts.field("counts"), 1)).as_py() or 0)
        report["unknown"] = int(len(scores) - pc.sum(pc.is_in(scores, value_set=corpus)).as_py())
        report["missing"] = int(len(corpus) - pc.sum(pc.is_in(corpus, value_set=scores)).as_py())
    except (ScoreError, pa.ArrowException) as exc:
        report["error"] = str(exc)
        return report
    report["columns"] = {}
    for name in columns:
        try:
            values = _score_values(table, name).to_numpy(zero_copy_only=False)
            report["columns"][name] = _column_stats(values.astype(np.float64))
        except (ScoreError, pa.ArrowException) as exc:
            report["columns"][name] = {"error": str(exc)}
    report["ok"] = not (report["duplicates"] or report["unknown"] or report["missing"]) and all(
        "error" not in s and s["non_finite"] == 0 for s in report["columns"].values()
    )
    return report
