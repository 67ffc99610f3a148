"""Selection before ordering: which rows a recipe keeps, in the order the ordering sees them.

The paper's pipeline is ``D_train = f_o(f_s(D))``: one score first selects, then orders what
was kept. This restates the reference code's three rules (microsoft/data-efficacy,
``data_selection/``) vectorised, because their *output order*
is the input order of the ordering step and so decides its ties and JIT windows:

- ``top_fraction`` R (the reference's ``top_r``): K = int(n * R); ``top_k`` K: the last K of
  the rows stably sorted ascending by score (ties at the cut keep the later input rows),
  handed on ascending by score, ties in input order. K >= n keeps every row, still sorted.
- ``threshold`` t: every row with score > t (strict), in input order.

A rule that keeps nothing is an error (the reference's ``top_r`` keeps *everything* when
K = 0, through ``list[-0:]``; we refuse that instead of reproducing it). The cost is one
O(n) partition plus a sort of the kept rows only; no Python object per row.
"""

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from curation.ordering.engine import as_scores, order, stable_argsort

RULES = ("top_fraction", "top_k", "threshold")


class SelectionError(ValueError):
    """A selection rule that is invalid or keeps nothing; the message names the rule."""


@dataclass(frozen=True)
class Selection:
    """The kept rows (``rows``, int64, in the order the ordering step sees them) and what
    the rule resolved to on these scores."""

    rows: np.ndarray
    rule: str
    value: float | int
    total: int
    applied_threshold: float  # threshold: t; top rules: the lowest kept score (the cut)

    @property
    def kept(self) -> int:
        return int(self.rows.size)


def check_rule(rule: str, value: Any) -> float | int:
    """The rule's parameter, checked (what the project file validates before any run)."""
    if rule not in RULES:
        raise SelectionError(f"unknown selection rule {rule!r}; choose one of {', '.join(RULES)}")
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise SelectionError(f"{rule} must be a number, got {value!r}")
    if rule == "top_fraction":
        value = float(value)
        if not 0 < value <= 1:
            raise SelectionError(f"top_fraction must be in (0, 1], got {value!r}")
        return value
    if rule == "top_k":
        if not float(value).is_integer() or value < 1:
            raise SelectionError(f"top_k must be an integer >= 1, got {value!r}")
        return int(value)
    value = float(value)
    if not math.isfinite(value):
        raise SelectionError(f"threshold must be a finite number, got {value!r}")
    return value


def score_problem(
    rule: str, score: str | None, columns: list[str] | None, normalize: str
) -> str | None:
    """Why a rule cannot use this score, or None. ``columns``: the raw score columns (None
    when not known yet); ``normalize``: how several of them combine into the driving score.
    A threshold needs a score with fixed units: a rank- or z-normalised combination moves
    whenever the corpus does, so ``score:`` must then name a raw column."""
    if score is not None:
        if columns is not None and score not in columns:
            return f"score {score!r} is not a score column; columns: {columns}"
        return None
    if rule == "threshold" and columns is not None and len(columns) > 1 and normalize != "none":
        return (
            f"a threshold on the combined, {normalize}-normalised score of {columns} has no "
            "fixed units; name a raw column with 'score: <column>'"
        )
    return None


def kept_count(rule: str, value: float | int, n: int) -> int | None:
    """How many rows a top rule keeps out of ``n`` (None for ``threshold``: it depends on
    the scores). ``top_fraction``: int(n * R), the reference's truncation."""
    if rule == "top_fraction":
        return min(n, int(n * float(value)))
    if rule == "top_k":
        return min(n, int(value))
    return None


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """The last ``k`` rows of a stable ascending sort, in that order, without sorting all n:
    the cut value from one partition, every row above it, and the *last* rows (in input
    order) among those equal to it; then a stable sort of the kept rows only."""
    n = scores.size
    if k >= n:
        return stable_argsort(scores, ascending=True)
    cut = np.partition(scores, n - k)[n - k]
    above = scores > cut
    need = k - int(np.count_nonzero(above))
    at_cut = np.flatnonzero(scores == cut)
    mask = above
    mask[at_cut[at_cut.size - need :]] = True
    kept = np.flatnonzero(mask)  # input order
    del mask, above, at_cut
    return kept[stable_argsort(scores[kept], ascending=True)]


def select(scores: Any, rule: str, value: Any) -> Selection:
    """Apply one rule to a score vector (position i = corpus row i)."""
    value = check_rule(rule, value)
    arr = as_scores(scores)
    n = arr.size
    if rule == "threshold":
        rows = np.flatnonzero(arr > value).astype(np.int64)
        if rows.size == 0:
            top = f"; the highest score is {float(arr.max())!r}" if n else ""
            raise SelectionError(
                f"threshold {value!r} keeps nothing: no score of the {n} rows is > {value!r}{top}"
            )
        applied = float(value)
    else:
        k = kept_count(rule, value, n)
        if not k:
            raise SelectionError(
                f"{rule} {value!r} keeps nothing of {n} rows "
                f"(K = {'int(n * R)' if rule == 'top_fraction' else 'k'} = {k})"
            )
        rows = np.ascontiguousarray(_top(arr, k), dtype=np.int64)
        applied = float(arr[rows[0]])
    return Selection(rows=rows, rule=rule, value=value, total=n, applied_threshold=applied)


def order_selected(order_scores: Any, selection: Selection, method: str, **params: Any):
    """The kept rows in training order: ``method`` runs on the kept rows' ``order_scores``
    in the selection's output order (so its ties and JIT windows are the reference's), and
    its positions are mapped back to corpus rows. Returns ``(rows, ordering)``: ``ordering``
    is the engine's result over the kept rows (its metadata, positions into them)."""
    kept_scores = np.asarray(order_scores)[selection.rows]
    ordering = order(kept_scores, method, **params)
    return selection.rows[np.asarray(ordering)], ordering
