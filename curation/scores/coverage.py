"""Exact score coverage: every corpus id has one finite score and no score names an unknown id.

The join is :func:`curation.corpus.ids.match_ids` (one dictionary-encode of both id columns, then
numpy), the same join the GX coverage check validates, so the rule lives in one place.
"""

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation.corpus.ids import IdMatch, IdTypeError, id_kind, match_ids, normalize_ids
from curation.scores.errors import MAX_IDS, ScoreError

QUANTILES = {"p01": 0.01, "p10": 0.10, "p50": 0.50, "p90": 0.90, "p99": 0.99}


def _matching_ids(corpus_ids: pa.Array, table: pa.Table) -> tuple[pa.Array, pa.Array]:
    """Both id arrays in one common type, or a ``wrong_type`` error."""
    if table.num_rows == 0:
        raise ScoreError("empty_table", "the score table has no rows")
    if "id" not in table.column_names:
        raise ScoreError("missing_id_column", f"columns present: {table.column_names}", column="id")
    kinds = (id_kind(corpus_ids), id_kind(table.column("id")))
    if None in kinds or kinds[0] != kinds[1]:
        raise ScoreError(
            "wrong_type",
            f"corpus ids are {corpus_ids.type} but score ids are "
            f"{table.column('id').type}; both must be strings or both integers",
            column="id",
        )
    try:
        return normalize_ids(corpus_ids, "id"), normalize_ids(table.column("id"), "id")
    except IdTypeError as exc:
        raise ScoreError("wrong_type", str(exc), column="id") from None


def _score_values(table: pa.Table, column: str) -> pa.Array:
    if column not in table.column_names:
        raise ScoreError("missing_column", f"columns present: {table.column_names}", column=column)
    values = table.column(column).combine_chunks()
    if not (pa.types.is_floating(values.type) or pa.types.is_integer(values.type)):
        raise ScoreError(
            "wrong_type",
            f"scores must be numeric, got {values.type}; use import_scores to parse strings",
            column=column,
        )
    return values.cast(pa.float64())


def _match(corpus_ids: pa.Array, score_ids: pa.Array) -> IdMatch:
    try:
        return match_ids(corpus_ids, score_ids)
    except IdTypeError as exc:
        raise ScoreError("wrong_type", str(exc), column="id") from None


def align_scores(corpus_ids: pa.Array, table: pa.Table, column: str) -> np.ndarray:
    """Scores of ``column`` in corpus row order (float64), after exact coverage checks."""
    corpus_ids, score_ids = _matching_ids(corpus_ids, table)
    values = _score_values(table, column)
    match = _match(corpus_ids, score_ids)
    if match.repeated.any():
        dupes = pc.unique(score_ids.filter(pa.array(match.repeated)))[:MAX_IDS].to_pylist()
        raise ScoreError(
            "duplicate_ids", "ids appear more than once in the score table", column="id", ids=dupes
        )
    unknown = np.flatnonzero(~match.known)
    if unknown.size:
        raise ScoreError(
            "unknown_ids",
            f"{unknown.size} score row(s) name ids not in the corpus",
            column="id",
            ids=score_ids.take(pa.array(unknown[:MAX_IDS])).to_pylist(),
        )
    missing = match.missing_rows
    if missing.size:
        raise ScoreError(
            "missing_scores",
            f"{missing.size} corpus id(s) have no score",
            column=column,
            ids=corpus_ids.take(pa.array(missing[:MAX_IDS])).to_pylist(),
        )
    aligned = values.take(pa.array(match.score_row)).to_numpy(zero_copy_only=False)
    bad = ~np.isfinite(aligned)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise ScoreError(
            "non_finite",
            f"{rows.size} score(s) are NaN, infinite or null",
            column=column,
            ids=corpus_ids.take(pa.array(rows[:MAX_IDS])).to_pylist(),
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
        match = _match(corpus, scores)
        report["duplicates"] = int(np.unique(match.score_codes[match.repeated]).size)
        report["unknown"] = int((~match.known).sum())
        report["missing"] = int(match.missing_rows.size)
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
