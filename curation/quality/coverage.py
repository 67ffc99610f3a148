"""The score-coverage check: every corpus id has exactly one finite score, no unknown ids."""

from typing import Any

import numpy as np

from curation.corpus.ids import IdTypeError, match_ids
from curation.quality.columns import as_ids, take, to_numpy
from curation.quality.coverage_summary import exact_counts, summarised_coverage
from curation.quality.gx import Suite, expect, run_suites
from curation.quality.outcome import (
    CheckOutcome,
    QualityInputError,
    count_unexpected,
    make_outcome,
    offending_values,
)

FLOAT_MAX = float(np.finfo(np.float64).max)
#: a failing table this small gets GX's row-by-row report (~600 bytes a row while it runs)
WHOLE_TABLE_ROWS = 200_000


def _as_scores(scores: Any, n: int) -> dict[str, np.ndarray]:
    """Score columns as float64 arrays of length ``n``; reject non-numeric or misaligned ones."""
    columns = scores if isinstance(scores, dict) else {"score": scores}
    out: dict[str, np.ndarray] = {}
    for name, values in columns.items():
        try:
            array = np.asarray(to_numpy(values, f"score column {name!r}"), dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise QualityInputError(f"score column {name!r} is not numeric: {exc}") from exc
        if len(array) != n:
            raise QualityInputError(
                f"score column {name!r} has {len(array)} values for {n} score ids"
            )
        out[str(name)] = array
    if not out:
        raise QualityInputError("no score columns given")
    return out


def check_score_coverage(
    corpus_ids: Any, score_ids: Any, scores: np.ndarray | dict[str, np.ndarray]
) -> CheckOutcome:
    """Every corpus id has exactly one finite score and no score row names an unknown id.

    The invariants are counted exactly in numpy from the one id join, and GX validates
    their summary (one row), so a 10^7-row table costs a join, not a GX pass over 10^7
    rows (that held ~600 bytes a row). When the summary is not clean and the table has at
    most :data:`WHOLE_TABLE_ROWS` rows, the verdict is one whole-table validation instead,
    whose report names every offending id. That one validates one frame: the score rows,
    then one placeholder row per corpus id that has no score (``has_score`` False,
    placeholder scores 0.0, so it fails only that expectation). Ids enter as shared
    integer codes; NaN and None scores are both null.
    """
    corpus = as_ids(corpus_ids, "corpus_ids")
    ids = as_ids(score_ids, "score_ids")
    columns = _as_scores(scores, len(ids))
    try:
        match = match_ids(corpus, ids)
    except IdTypeError as exc:
        raise QualityInputError(str(exc)) from exc
    lacking = match.missing_rows
    missing_codes, first = np.unique(match.corpus_codes[lacking], return_index=True)
    counts = exact_counts(match, columns, len(missing_codes))
    if not any(counts.values()) or len(ids) + len(missing_codes) > WHOLE_TABLE_ROWS:
        return summarised_coverage(counts, match, corpus, ids, lacking[first], columns)
    missing_at = lacking[first]  # corpus position of each missing id, for the report
    known, score_codes = match.known, match.score_codes
    n_score, n_missing = len(ids), len(missing_codes)
    frame = {
        "id_code": np.concatenate([score_codes, missing_codes]),
        "in_corpus": np.concatenate([known, np.ones(n_missing, dtype=bool)]),
        "has_score": np.concatenate(
            [np.ones(n_score, dtype=bool), np.zeros(n_missing, dtype=bool)]
        ),
        **{f"score__{c}": np.concatenate([v, np.zeros(n_missing)]) for c, v in columns.items()},
    }

    def report(rows: np.ndarray) -> dict[str, list[Any]]:
        at = np.full(len(rows), -1, dtype=np.int64)
        placeholder = rows >= n_score
        at[placeholder] = missing_at[rows[placeholder] - n_score]
        from_scores, from_corpus = take(ids, rows), take(corpus, at)
        return {
            "id": [
                b if p else a for p, a, b in zip(placeholder, from_scores, from_corpus, strict=True)
            ]
        }

    expectations = [
        expect("ExpectTableRowCountToBeBetween", "empty score table", min_value=1),
        expect(
            "ExpectColumnValuesToBeBetween",
            "null ids in the score table",
            column="id_code",
            min_value=0,
        ),
        expect(
            "ExpectColumnValuesToBeUnique", "duplicate ids in the score table", column="id_code"
        ),
        expect(
            "ExpectColumnValuesToBeInSet",
            "score ids not in the corpus",
            column="in_corpus",
            value_set=[True],
        ),
        expect(
            "ExpectColumnValuesToBeInSet",
            "corpus ids without a score",
            column="has_score",
            value_set=[True],
        ),
    ]
    for name in columns:
        expectations += [
            expect(
                "ExpectColumnValuesToNotBeNull",
                f"null/NaN scores in {name!r}",
                column=f"score__{name}",
            ),
            expect(
                "ExpectColumnValuesToBeBetween",
                f"infinite scores in {name!r}",
                column=f"score__{name}",
                min_value=-FLOAT_MAX,
                max_value=FLOAT_MAX,
            ),
        ]
    internal = ("id_code", "in_corpus", "has_score")
    rows = run_suites([Suite("score_coverage", frame, expectations, report, internal)])
    metadata = {
        "corpus_rows": len(corpus),
        "score_rows": n_score,
        "score_columns": list(columns),
        "missing_ids": count_unexpected(rows, "corpus ids without a score"),
        "unknown_ids": count_unexpected(rows, "score ids not in the corpus"),
        "duplicate_id_rows": count_unexpected(rows, "duplicate ids in the score table"),
        "null_ids": count_unexpected(rows, "null ids in the score table"),
        "non_finite_scores": {
            name: count_unexpected(rows, f"null/NaN scores in {name!r}")
            + count_unexpected(rows, f"infinite scores in {name!r}")
            for name in columns
        },
        "offending_ids": offending_values(rows, "id"),
    }
    ok = (
        f"Score coverage OK: {len(corpus)} corpus ids each have exactly one finite score in "
        f"{len(columns)} column(s); no unknown, duplicate or null ids."
    )
    return make_outcome("score_coverage", rows, ok, ["id"], metadata)
