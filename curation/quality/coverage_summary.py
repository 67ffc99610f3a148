"""The score-coverage verdict from exact counts: GX on one summary row.

What :func:`curation.quality.coverage.check_score_coverage` returns for a clean table of any
size, and for a failing one too large for a row-by-row report: the same expectations and
metadata, counted in numpy from the id join, with the first offending ids of each kind.
"""

from typing import Any

import numpy as np
import pandas as pd

from curation.corpus.ids import IdMatch
from curation.quality.columns import take
from curation.quality.gx import Suite, expect, run_suites
from curation.quality.outcome import MAX_OFFENDERS, CheckOutcome, make_outcome


def _labels(columns: dict[str, np.ndarray]) -> dict[str, str]:
    """Summary column -> the label of the expectation it stands for (as the whole-table
    check labels them)."""
    labels = {
        "null_ids": "null ids in the score table",
        "duplicate_id_rows": "duplicate ids in the score table",
        "unknown_ids": "score ids not in the corpus",
        "missing_ids": "corpus ids without a score",
    }
    for name in columns:
        labels[f"nan__{name}"] = f"null/NaN scores in {name!r}"
        labels[f"inf__{name}"] = f"infinite scores in {name!r}"
    return labels


def exact_counts(match: IdMatch, columns: dict[str, np.ndarray], missing: int) -> dict[str, int]:
    """Each invariant's offending row count, exactly as GX counts them row by row."""
    counts = {
        "null_ids": int(np.count_nonzero(match.score_codes < 0)),
        "duplicate_id_rows": int(np.count_nonzero(match.repeated)),
        "unknown_ids": int(np.count_nonzero(~match.known)),
        "missing_ids": int(missing),
    }
    for name, values in columns.items():
        counts[f"nan__{name}"] = int(np.count_nonzero(np.isnan(values)))
        counts[f"inf__{name}"] = int(np.count_nonzero(np.isinf(values)))
    return counts


def _first_ids(
    match: IdMatch, corpus: Any, ids: Any, missing_at: np.ndarray, columns: dict
) -> list[Any]:
    """Up to MAX_OFFENDERS offending ids: unknown, duplicate, non-finite, then missing."""
    bad = ~match.known | match.repeated
    for values in columns.values():
        bad |= ~np.isfinite(values)
    found = take(ids, np.flatnonzero(bad)[:MAX_OFFENDERS])
    found += take(corpus, missing_at[:MAX_OFFENDERS])
    return list(dict.fromkeys(v for v in found if v is not None))[:MAX_OFFENDERS]


def summarised_coverage(
    counts: dict[str, int],
    match: IdMatch,
    corpus: Any,
    ids: Any,
    missing_at: np.ndarray,
    columns: dict[str, np.ndarray],
) -> CheckOutcome:
    """GX on the one-row summary of exact counts; the outcome the whole-table check gives."""
    labels = _labels(columns)
    frame = pd.DataFrame({"score_rows": [len(ids)], **{k: [v] for k, v in counts.items()}})
    expectations = [
        expect(
            "ExpectColumnValuesToBeBetween", "empty score table", column="score_rows", min_value=1
        )
    ]
    expectations += [
        expect("ExpectColumnValuesToBeBetween", label, column=key, min_value=0, max_value=0)
        for key, label in labels.items()
    ]
    offenders = _first_ids(match, corpus, ids, missing_at, columns) if any(counts.values()) else []
    rows = run_suites([Suite("score_coverage", frame, expectations, lambda r: {"row": r.tolist()})])
    metadata = {
        "corpus_rows": len(corpus),
        "score_rows": len(ids),
        "score_columns": list(columns),
        "missing_ids": counts["missing_ids"],
        "unknown_ids": counts["unknown_ids"],
        "duplicate_id_rows": counts["duplicate_id_rows"],
        "null_ids": counts["null_ids"],
        "non_finite_scores": {
            name: counts[f"nan__{name}"] + counts[f"inf__{name}"] for name in columns
        },
        "offending_ids": offenders,
        "checked": "exact counts in numpy, GX on their summary",
    }
    for row in rows:  # the row count each failure stands for, as the whole-table check says
        key = next((k for k, label in labels.items() if label == row["label"]), None)
        if key is not None and not row["success"]:
            row["unexpected_count"] = counts[key]
            row.pop("observed_value", None)
    ok = (
        f"Score coverage OK: {len(corpus)} corpus ids each have exactly one finite score in "
        f"{len(columns)} column(s); no unknown, duplicate or null ids."
    )
    note = f"First offending ids: {offenders}." if offenders else ""
    return make_outcome("score_coverage", rows, ok, ["id"], metadata, note)
