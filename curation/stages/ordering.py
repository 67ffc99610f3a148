"""A recipe's ordering as a pipeline stage: compute (or reuse) it, and check it.

Kept apart from :mod:`curation.ordering.engine` (pure permutations) because this is where a
recipe meets a corpus: its selection applied (:mod:`curation.ordering.selection`), parameters
resolved against what is ordered, content addressing, the stored table, and the invariants
re-verified from scratch.
"""

import numpy as np

from curation.ordering.engine import guideline_metrics, order
from curation.ordering.metrics import expected_shape
from curation.ordering.selection import (
    Selection,
    SelectionError,
    order_selected,
    score_problem,
    select,
)
from curation.ordering.table import ordering_key, write_ordering_table
from curation.project import Project, Recipe
from curation.quality import CheckOutcome, check_ordering
from curation.refs import CorpusRef, OrderingRef, ScoresRef
from curation.scores.aligned import aligned_values
from curation.scores.errors import ScoreError
from curation.storage import resolve
from curation.storage.intact import parquet_problem, reusable
from curation.warnings_capture import captured_warnings

BATCH_SIZE = 16  # window of the local-diversity metric: the probe's batch size


def _structure(metadata: dict) -> dict:
    """Where the order has boundaries by construction (small: regions, not positions)."""
    keep = ("regions", "n_front", "n_back", "clamped")
    return {k: metadata[k] for k in keep if k in metadata}


def select_rows(recipe: Recipe, corpus: CorpusRef, scores: ScoresRef) -> Selection | None:
    """The rows ``recipe.select`` keeps, in the order the ordering sees them (None: every
    row). Errors name the recipe and the key: a score the table lacks, a threshold on a
    rank-normalised combination, a rule that keeps nothing on these scores."""
    spec = recipe.select
    if spec is None:
        return None
    rule, value = spec.rule
    normalize = scores.combination.get("normalize", "none")
    problem = score_problem(rule, spec.score, scores.raw_columns, normalize)
    if problem:
        raise SelectionError(f"recipe {recipe.name!r}: select: {problem}")
    try:
        values = aligned_values(corpus, scores, spec.score)
    except ScoreError as exc:  # a raw column the coverage check does not see: NaN, missing
        where = f"select.score {spec.score!r}" if spec.score else "select"
        raise SelectionError(f"recipe {recipe.name!r}: {where}: {exc}") from exc
    try:
        return select(values, rule, value)
    except SelectionError as exc:
        raise SelectionError(f"recipe {recipe.name!r}: select.{rule}: {exc}") from None


def _selection_facts(recipe: Recipe, scores: ScoresRef, kept: Selection) -> dict:
    """What lineage, metadata and reports say about a selection (JSON, small)."""
    spec = recipe.select
    return {
        "rule": kept.rule,
        "value": kept.value,
        "score": spec.score,
        "score_column": spec.score or scores.column,
        "driving_columns": [] if spec.score else (scores.raw_columns or []),
        "applied_threshold": kept.applied_threshold,
        "kept": kept.kept,
        "total": kept.total,
    }


def compute_ordering(
    project: Project,
    recipe: Recipe,
    corpus: CorpusRef,
    scores: ScoresRef,
    overrides: dict | None = None,
) -> OrderingRef:
    """The recipe's ordering of the corpus (or of the rows its selection keeps), written
    once per content key (a rerun reuses it)."""
    values = aligned_values(corpus, scores)
    kept = select_rows(recipe, corpus, scores)
    n = corpus.rows if kept is None else kept.kept
    params = {**recipe.ordering_params(n), **(overrides or {})}
    with captured_warnings() as messages:
        if kept is None:
            result = order(values, recipe.method, **params)
            rows, ordered = np.asarray(result), values
        else:
            rows, result = order_selected(values, kept, recipe.method, **params)
            ordered = values[kept.rows]
    params = result.metadata["params"]
    facts = {} if kept is None else _selection_facts(recipe, scores, kept)
    bound = {k: facts[k] for k in ("rule", "value", "score")} if facts else None
    key = ordering_key(corpus.version, scores.version, recipe.method, params, bound)
    loc = resolve(project.path("work", "orderings", recipe.name, key, "ordering.parquet"))
    if not reusable("ordering table", loc, parquet_problem(loc, rows=int(rows.size))):
        write_ordering_table(loc, corpus.read_ids(), rows)
    metrics = guideline_metrics(ordered, result, BATCH_SIZE, params.get("ascending", True))
    curve = metrics.pop("curve")
    return OrderingRef(
        uri=loc.uri,
        recipe=recipe.name,
        method=recipe.method,
        params=params,
        key=key,
        rows=int(rows.size),
        corpus_version=corpus.version,
        score_version=scores.version,
        metrics=metrics,
        curve=curve,
        structure=_structure(result.metadata),
        warnings=tuple(messages),
        override=bool(overrides),
        selection=facts,
    )


def recompute_selection(ref: OrderingRef, corpus: CorpusRef, scores: ScoresRef) -> Selection:
    """The recipe's selection again, from the scores alone (what the checks compare to)."""
    facts = ref.selection
    return select(aligned_values(corpus, scores, facts["score"]), facts["rule"], facts["value"])


def check_recipe_ordering(ref: OrderingRef, corpus: CorpusRef, scores: ScoresRef) -> CheckOutcome:
    """A complete permutation (of exactly the rows a recomputed selection keeps, when the
    recipe selects), equal to a fresh recomputation, in the method's shape."""
    values = aligned_values(corpus, scores)
    positions = ref.read_rows()
    kept = None
    with captured_warnings():  # already reported when the ordering was computed
        if ref.selection:
            again = recompute_selection(ref, corpus, scores)
            recomputed, _ = order_selected(values, again, ref.method, **ref.params)
            kept = np.zeros(values.size, dtype=bool)
            kept[again.rows] = True
        else:
            recomputed = np.asarray(order(values, ref.method, **ref.params))
    if kept is None:
        series = values
        metrics = guideline_metrics(
            values, positions, BATCH_SIZE, ref.params.get("ascending", True)
        )
    else:  # the kept rows' own score distribution, as when the ordering was computed
        inside = positions[(positions >= 0) & (positions < values.size)]
        series = values[inside]
        metrics = guideline_metrics(
            series, np.arange(series.size), BATCH_SIZE, ref.params.get("ascending", True)
        )
    all_tied = bool(series.size == 0 or np.nanmin(series) == np.nanmax(series))
    metrics.pop("curve")
    return check_ordering(
        positions,
        values.size,
        recomputed=recomputed,
        metrics=metrics,
        expected_shape=expected_shape(ref.method, ref.params, all_tied),
        kept=kept,
    )
