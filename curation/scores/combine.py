"""Combine several score columns into one ordering score, returning the recipe for lineage."""

import numpy as np
import pyarrow as pa

from curation.scores.errors import ScoreError

NORMALIZERS = ("rank", "zscore", "none")


def rank_normalize(values: np.ndarray) -> np.ndarray:
    """Average ranks of ties, scaled to [0, 1] (0.5 for a single value). Vectorised."""
    n = values.size
    if n <= 1:
        return np.full(n, 0.5)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    first = np.cumsum(counts) - counts
    return (first + (counts - 1) / 2.0)[inverse] / (n - 1)


def zscore_normalize(values: np.ndarray) -> np.ndarray:
    """Zero mean, unit variance; a constant column becomes zeros."""
    std = values.std()
    centred = values - values.mean()
    return centred / std if std > 0 else np.zeros_like(centred)


def _column(table: pa.Table, name: str) -> np.ndarray:
    if name not in table.column_names:
        raise ScoreError("missing_column", f"columns present: {table.column_names}", column=name)
    column = table.column(name)
    if not (pa.types.is_floating(column.type) or pa.types.is_integer(column.type)):
        raise ScoreError("wrong_type", f"scores must be numeric, got {column.type}", column=name)
    values = column.cast(pa.float64()).to_numpy()
    bad = ~np.isfinite(values)
    if bad.any():
        ids = (
            table.column("id").take(np.flatnonzero(bad)[:10]).to_pylist()
            if "id" in table.column_names
            else []
        )
        raise ScoreError(
            "non_finite",
            f"{int(bad.sum())} value(s) are NaN, infinite or null",
            column=name,
            ids=ids,
        )
    return values


def _check_recipe(
    columns: list[str], weights: list[float], directions: list[int], normalize: str
) -> None:
    if not columns:
        raise ScoreError("no_score_columns", "name at least one column to combine")
    if normalize not in NORMALIZERS:
        raise ScoreError("bad_recipe", f"normalize must be one of {NORMALIZERS}, got {normalize!r}")
    if len(weights) != len(columns) or len(directions) != len(columns):
        raise ScoreError(
            "bad_recipe",
            f"{len(columns)} columns need as many weights and "
            f"directions, got {len(weights)} and {len(directions)}",
        )
    if any(d not in (1, -1) for d in directions):
        raise ScoreError("bad_recipe", f"directions must be 1 or -1, got {directions}")
    if not all(np.isfinite(weights)) or not any(weights):
        raise ScoreError("bad_recipe", f"weights must be finite and not all zero: {weights}")


def combine_scores(
    table: pa.Table,
    columns: list[str],
    weights: list[float] | None = None,
    directions: list[int] | None = None,
    normalize: str = "rank",
) -> tuple[np.ndarray, dict]:
    """Weighted sum of normalised, direction-adjusted columns, in table row order.

    ``direction=-1`` flips a column (e.g. a quality score where higher means easier).
    Rank normalisation is the default because scorers live on unrelated scales and
    heavy tails would otherwise dominate a z-score sum.
    """
    weights = [1.0] * len(columns) if weights is None else [float(w) for w in weights]
    directions = [1] * len(columns) if directions is None else [int(d) for d in directions]
    _check_recipe(columns, weights, directions, normalize)
    scale = {"rank": rank_normalize, "zscore": zscore_normalize, "none": lambda v: v}[normalize]
    total = np.zeros(table.num_rows, dtype=np.float64)
    for name, weight, direction in zip(columns, weights, directions, strict=True):
        total += weight * direction * scale(_column(table, name))
    recipe = {
        "columns": list(columns),
        "weights": weights,
        "directions": directions,
        "normalize": normalize,
        "formula": "sum_i weight_i * direction_i * normalize(column_i)",
    }
    return total, recipe
