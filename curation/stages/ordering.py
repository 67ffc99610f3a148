"""A recipe's ordering as a pipeline stage: compute (or reuse) it, and check it.

Kept apart from :mod:`curation.ordering.engine` (pure permutations) because this is where a
recipe meets a corpus: parameters resolved against the corpus size, content addressing,
the stored table, and the invariants re-verified from scratch.
"""

import numpy as np

from curation.ordering.engine import guideline_metrics, order
from curation.ordering.metrics import expected_shape
from curation.ordering.table import ordering_key, write_ordering_table
from curation.project import Project, Recipe
from curation.quality import CheckOutcome, check_ordering
from curation.refs import CorpusRef, OrderingRef, ScoresRef
from curation.scores.aligned import aligned_values
from curation.storage import resolve
from curation.storage.intact import parquet_problem, reusable
from curation.warnings_capture import captured_warnings

BATCH_SIZE = 16  # window of the local-diversity metric: the probe's batch size


def _structure(metadata: dict) -> dict:
    """Where the order has boundaries by construction (small: regions, not positions)."""
    keep = ("regions", "n_front", "n_back", "clamped")
    return {k: metadata[k] for k in keep if k in metadata}


def compute_ordering(
    project: Project,
    recipe: Recipe,
    corpus: CorpusRef,
    scores: ScoresRef,
    overrides: dict | None = None,
) -> OrderingRef:
    """The recipe's permutation, written once per content key (a rerun reuses it)."""
    values = aligned_values(corpus, scores)
    params = {**recipe.ordering_params(corpus.rows), **(overrides or {})}
    with captured_warnings() as messages:
        result = order(values, recipe.method, **params)
    params = result.metadata["params"]
    key = ordering_key(corpus.version, scores.version, recipe.method, params)
    loc = resolve(project.path("work", "orderings", recipe.method, key, "ordering.parquet"))
    rows = int(np.asarray(result).size)
    if not reusable("ordering table", loc, parquet_problem(loc, rows=rows)):
        write_ordering_table(loc, corpus.read_ids(), np.asarray(result))
    metrics = guideline_metrics(values, result, BATCH_SIZE, params.get("ascending", True))
    curve = metrics.pop("curve")
    return OrderingRef(
        uri=loc.uri,
        recipe=recipe.name,
        method=recipe.method,
        params=params,
        key=key,
        rows=int(result.size),
        corpus_version=corpus.version,
        score_version=scores.version,
        metrics=metrics,
        curve=curve,
        structure=_structure(result.metadata),
        warnings=tuple(messages),
        override=bool(overrides),
    )


def check_recipe_ordering(ref: OrderingRef, corpus: CorpusRef, scores: ScoresRef) -> CheckOutcome:
    """A complete permutation, equal to a fresh recomputation, in the method's shape."""
    values = aligned_values(corpus, scores)
    positions = ref.read_rows()
    with captured_warnings():  # already reported when the ordering was computed
        recomputed = order(values, ref.method, **ref.params)
    metrics = guideline_metrics(values, positions, BATCH_SIZE, ref.params.get("ascending", True))
    metrics.pop("curve")
    return check_ordering(
        positions,
        values.size,
        recomputed=np.asarray(recomputed),
        metrics=metrics,
        expected_shape=expected_shape(ref.method, ref.params),
    )
