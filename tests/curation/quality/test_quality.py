"""The GX-backed checks: pass on good data, fail on every kind of bad data, name the culprits."""

import json
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curation.quality import (
    MAX_OFFENDERS,
    CheckOutcome,
    QualityInputError,
    check_ordering,
    check_score_coverage,
    check_shards,
    outcome_metadata,
)

IDS = np.array([f"doc-{i}" for i in range(12)])


def failed(outcome: CheckOutcome) -> list[str]:
    return outcome.metadata["failed_expectations"]


def assert_names(outcome: CheckOutcome, *ids: object) -> None:
    """Every offending id appears in the description and in the metadata."""
    assert not outcome.passed
    for value in ids:
        assert repr(value) in outcome.description
        assert value in outcome.metadata["offending_ids"]


# --------------------------------------------------------------------------- score coverage


def test_coverage_passes_on_exact_scores_in_any_order():
    perm = np.random.default_rng(0).permutation(len(IDS))
    outcome = check_score_coverage(IDS, IDS[perm], {"a": np.arange(12.0), "b": -np.ones(12)})
    assert outcome.passed, outcome.description
    assert outcome.name == "score_coverage"
    assert outcome.metadata["failed_expectations"] == []
    assert outcome.metadata["score_columns"] == ["a", "b"]
    assert all(r["success"] for r in outcome.results)
    assert {r["label"] for r in outcome.results} >= {
        "duplicate ids in the score table",
        "score ids not in the corpus",
        "corpus ids without a score",
        "null/NaN scores in 'a'",
        "infinite scores in 'b'",
    }
    assert outcome.metadata["checked"].startswith("exact counts")  # GX on the summary row


_BROKEN_TABLES = {
    "missing": lambda: (IDS, IDS[2:], np.ones(10)),
    "unknown": lambda: (IDS, np.append(IDS, ["ghost", "spook"]), np.ones(14)),
    "duplicate": lambda: (IDS, np.append(IDS, IDS[:3]), np.ones(15)),
    "nan and inf": lambda: (IDS, IDS, np.array([np.nan, np.inf, -np.inf] + [1.0] * 9)),
    "null id": lambda: (IDS, pa.array(list(IDS[:11]) + [None]), np.ones(12)),
    "all at once": lambda: (
        IDS,
        np.append(IDS[1:], ["ghost", "d0001"][:2]),
        np.array([np.nan] + [1.0] * 12),
    ),
}


@pytest.mark.parametrize("case", list(_BROKEN_TABLES))
def test_a_large_failing_table_gets_the_counts_of_the_row_by_row_report(case, monkeypatch):
    """Past WHOLE_TABLE_ROWS a failing table is judged from exact numpy counts: the same
    verdict, failed expectations and counts as GX row by row, and offending ids named."""
    from curation.quality import coverage

    corpus, ids, scores = _BROKEN_TABLES[case]()
    whole = check_score_coverage(corpus, ids, scores)
    monkeypatch.setattr(coverage, "WHOLE_TABLE_ROWS", 0)
    summary = check_score_coverage(corpus, ids, scores)
    assert not whole.passed and not summary.passed
    keys = ("failed_expectations", "missing_ids", "unknown_ids", "duplicate_id_rows")
    keys += ("null_ids", "non_finite_scores")
    assert {k: summary.metadata[k] for k in keys} == {k: whole.metadata[k] for k in keys}
    assert summary.metadata["offending_ids"]
    assert set(summary.metadata["offending_ids"]) <= set(whole.metadata["offending_ids"]) | set(
        np.asarray(ids, dtype=object).tolist()
    ) | set(IDS.tolist())


def test_coverage_accepts_arrow_and_int_ids():
    assert check_score_coverage(pa.chunked_array([IDS[:5], IDS[5:]]), IDS, np.ones(12)).passed
    assert check_score_coverage(np.arange(5), pa.array([4, 3, 2, 1, 0]), np.ones(5)).passed


def test_coverage_missing_ids():
    outcome = check_score_coverage(IDS, IDS[2:], np.ones(10))
    assert_names(outcome, "doc-0", "doc-1")
    assert failed(outcome) == ["corpus ids without a score"]
    assert outcome.metadata["missing_ids"] == 2


def test_coverage_unknown_ids():
    outcome = check_score_coverage(IDS, np.append(IDS, "ghost"), np.ones(13))
    assert_names(outcome, "ghost")
    assert failed(outcome) == ["score ids not in the corpus"]
    assert outcome.metadata["unknown_ids"] == 1


def test_coverage_duplicate_ids():
    outcome = check_score_coverage(IDS, np.append(IDS, "doc-3"), np.ones(13))
    assert_names(outcome, "doc-3")
    assert failed(outcome) == ["duplicate ids in the score table"]
    assert outcome.metadata["duplicate_id_rows"] == 2


def test_coverage_int_ids_against_string_ids_never_match():
    outcome = check_score_coverage(np.arange(3), np.array(["0", "1", "2"]), np.ones(3))
    assert set(failed(outcome)) == {"corpus ids without a score", "score ids not in the corpus"}
    assert_names(outcome, "0", 0)


@pytest.mark.parametrize(
    ("bad", "label"),
    [
        (np.nan, "null/NaN scores in 'score'"),
        (np.inf, "infinite scores in 'score'"),
        (-np.inf, "infinite scores in 'score'"),
    ],
)
def test_coverage_non_finite_scores(bad, label):
    scores = np.arange(12.0)
    scores[7] = bad
    outcome = check_score_coverage(IDS, IDS, scores)
    assert_names(outcome, "doc-7")
    assert failed(outcome) == [label]
    assert outcome.metadata["non_finite_scores"] == {"score": 1}


def test_coverage_nan_and_none_are_both_null_in_pandas3():
    """pandas 3 float columns treat NaN as missing: None and NaN must both be caught, once."""
    scores = np.array([1.0, None, 3.0, np.nan], dtype=object)
    arrow = pa.array([1.0, None, 3.0, float("nan")], from_pandas=False)  # NaN is a value here
    for column in (scores, arrow):
        outcome = check_score_coverage(IDS[:4], IDS[:4], {"q": column})
        assert failed(outcome) == ["null/NaN scores in 'q'"]
        assert_names(outcome, "doc-1", "doc-3")
        assert outcome.metadata["non_finite_scores"] == {"q": 2}


def test_coverage_null_and_empty():
    outcome = check_score_coverage(
        IDS[:2], np.array(["doc-0", "doc-1", None], dtype=object), np.ones(3)
    )
    assert "null ids in the score table" in failed(outcome)
    empty = check_score_coverage(np.array([], dtype=str), np.array([], dtype=str), np.array([]))
    assert failed(empty) == ["empty score table"]


def test_coverage_caps_offending_ids():
    outcome = check_score_coverage(IDS, IDS, np.full(12, np.nan))
    assert outcome.metadata["non_finite_scores"] == {"score": 12}
    assert len(outcome.metadata["offending_ids"]) == MAX_OFFENDERS
    assert all(len(r.get("offending", [])) <= MAX_OFFENDERS for r in outcome.results)


def test_coverage_rejects_malformed_inputs():
    with pytest.raises(QualityInputError, match="3 values for 12"):
        check_score_coverage(IDS, IDS, np.ones(3))
    with pytest.raises(QualityInputError, match="not numeric"):
        check_score_coverage(IDS[:1], IDS[:1], np.array(["high"]))
    with pytest.raises(QualityInputError, match="one-dimensional"):
        check_score_coverage(IDS.reshape(3, 4), IDS, np.ones(12))


# --------------------------------------------------------------------------- ordering


def test_ordering_passes_with_recomputation_and_metrics():
    perm = np.random.default_rng(1).permutation(50)
    outcome = check_ordering(
        perm,
        50,
        perm.copy(),
        {"cliffs": 0, "cycles": 3},
        {"cliffs": {"max": 0}, "cycles": {"min": 2, "max": 4}},
    )
    assert outcome.passed, outcome.description
    assert outcome.metadata["guideline_metrics"] == {"cliffs": 0.0, "cycles": 3.0}


@pytest.mark.parametrize(
    ("positions", "label", "offending"),
    [
        ([0, 1, 2, 2, 4], "samples repeated (a permutation has none)", [2, 3]),
        ([0, 1, 2, 3, 5], "sample indices outside 0..4", [4]),
        ([0, -1, 2, 3, 4], "sample indices outside 0..4", [1]),
        ([0, 1, np.nan, 3, 4], "null sample indices", [2]),
    ],
)
def test_ordering_detects_broken_permutations(positions, label, offending):
    outcome = check_ordering(np.array(positions), 5)
    assert label in failed(outcome)
    assert outcome.metadata["offending_positions"][: len(offending)] == offending
    assert f"position={offending[0]}" in outcome.description


def test_ordering_wrong_length():
    outcome = check_ordering(np.arange(4), 5)
    assert failed(outcome) == ["ordering length is not n=5"]
    assert "observed 4" in outcome.description


def test_ordering_differs_from_recomputation():
    fresh = np.arange(10)
    stale = fresh.copy()
    stale[[3, 7]] = stale[[7, 3]]
    outcome = check_ordering(stale, 10, fresh)
    assert failed(outcome) == ["positions differ from a recomputation"]
    assert outcome.metadata["differing_positions"] == 2
    assert outcome.metadata["offending_positions"] == [3, 7]
    assert "position=3, sample=7, recomputed=3" in outcome.description


def test_ordering_metrics_outside_shape_or_missing():
    outcome = check_ordering(
        np.arange(5),
        5,
        metrics={"cliffs": 2, "bad": "x"},
        expected_shape={"cliffs": {"max": 0}, "bad": {"min": 0}, "absent": {"min": 0}},
    )
    assert set(failed(outcome)) == {
        "guideline metric 'cliffs' outside {'max': 0}",
        "guideline metric 'bad' not a number",
        "guideline metric 'absent' missing",
    }
    assert "values [2.0]" in outcome.description
    with pytest.raises(QualityInputError, match="expected_shape"):
        check_ordering(np.arange(5), 5, metrics={}, expected_shape={"cliffs": {"below": 0}})


@st.composite
def permutations(draw):
    n = draw(st.integers(min_value=1, max_value=200))
    seed = draw(st.integers(min_value=0, max_value=2**32 - 1))
    return np.random.default_rng(seed).permutation(n)


@settings(max_examples=15, deadline=None)
@given(permutations())
def test_ordering_property_random_permutations_pass(perm):
    assert check_ordering(perm, len(perm), perm.copy()).passed


@settings(max_examples=15, deadline=None)
@given(permutations(), st.sampled_from(["duplicate", "out_of_range", "drop", "swap"]), st.data())
def test_ordering_property_corruptions_fail(perm, corruption, data):
    n = len(perm)
    bad = perm.copy()
    k = data.draw(st.integers(min_value=0, max_value=n - 1))
    if corruption == "duplicate":
        if n < 2:
            return
        bad[k] = perm[(k + 1) % n]
    elif corruption == "out_of_range":
        bad[k] = n + data.draw(st.integers(min_value=0, max_value=5))
    elif corruption == "drop":
        bad = np.delete(bad, k)
    else:
        if n < 2:
            return
        j = (k + 1) % n
        bad[[k, j]] = bad[[j, k]]
    outcome = check_ordering(bad, n, perm)
    assert not outcome.passed
    if corruption != "drop":
        assert k in outcome.metadata["offending_positions"]


# --------------------------------------------------------------------------- shards


def shards_of(ids, cuts):
    return [ids[a:b] for a, b in zip([0, *cuts], [*cuts, len(ids)], strict=True)]


def test_shards_pass_with_mixed_array_types():
    shards = [IDS[:5], pa.array(IDS[5:9]), pa.chunked_array([IDS[9:11], IDS[11:]])]
    outcome = check_shards(IDS, shards, [5, 4, 3])
    assert outcome.passed, outcome.description
    assert check_shards(np.arange(7), shards_of(np.arange(7), [3])).passed


def test_shards_swapped_rows_are_named():
    ids = IDS.copy()
    ids[[6, 8]] = ids[[8, 6]]
    outcome = check_shards(IDS, shards_of(ids, [5]), [5, 7])
    assert failed(outcome) == ["shard ids differ from the expected ids"]
    assert outcome.metadata["offending_positions"] == [6, 8]
    assert "position=6, shard=1, expected_id='doc-6', actual_id='doc-8'" in outcome.description


def test_shards_missing_and_extra_rows():
    short = check_shards(IDS, shards_of(IDS[:-1], [4]))
    assert "expected rows missing past the end of the shards" in failed(short)
    assert "doc-11" in short.metadata["offending_ids"]
    extra = check_shards(IDS, [*shards_of(IDS, [4]), np.array(["doc-99"])])
    assert "extra rows past the expected ids" in failed(extra)
    assert "'doc-99'" in extra.description


def test_shards_repeated_ids():
    ids = IDS.copy()
    ids[10] = ids[2]
    outcome = check_shards(IDS, shards_of(ids, [6]))
    assert "ids repeated in the shards" in failed(outcome)
    assert outcome.metadata["repeated_rows"] == 2
    assert "doc-2" in outcome.metadata["offending_ids"]


def test_shards_declared_row_counts():
    outcome = check_shards(IDS, shards_of(IDS, [5]), [6, 6])
    assert failed(outcome) == ["shard row counts differ from declared"]
    assert outcome.metadata["shards_with_wrong_counts"] == [
        {"shard": 0, "declared": 6, "actual": 5},
        {"shard": 1, "declared": 6, "actual": 7},
    ]
    assert "declared': 6" in outcome.description
    with pytest.raises(QualityInputError, match="negative"):
        check_shards(IDS, [IDS], [-1])


def test_shards_no_shards_at_all():
    outcome = check_shards(IDS, [])
    assert "expected rows missing past the end of the shards" in failed(outcome)


# --------------------------------------------------------------------------- glue


def test_dagster_metadata_is_strict_json():
    scores = np.arange(12.0)
    scores[0] = np.inf
    outcome = check_score_coverage(IDS, IDS, scores)
    meta = outcome_metadata(outcome)
    json.dumps(meta, allow_nan=False)
    assert meta["passed"] is False
    assert meta["description"] == outcome.description
    assert meta["offending_ids"] == ["doc-0"]
    json.dumps(outcome.results, allow_nan=False)


def test_importing_quality_does_not_import_gx():
    code = "import sys, curation.quality; print('great_expectations' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --------------------------------------------------------------------------- with the real engine


def test_ordering_check_on_real_orderings_and_metrics():
    """SAW with an odd folding layer meets its shape; a descending sort breaks it."""
    from curation.ordering.engine import order
    from curation.ordering.metrics import expected_shape, guideline_metrics

    scores = np.random.default_rng(3).random(2000)
    params = {"folding_layer": 3}
    saw = order(scores, "saw", **params)
    shape = expected_shape("saw", params)
    outcome = check_ordering(
        saw, len(scores), order(scores, "saw", **params), guideline_metrics(scores, saw), shape
    )
    assert outcome.passed, outcome.description

    backwards = order(scores, "sorted", ascending=False)
    outcome = check_ordering(
        backwards, len(scores), saw, guideline_metrics(scores, backwards), shape
    )
    assert "positions differ from a recomputation" in failed(outcome)
    assert any(label.startswith("guideline metric 'boundary_last_q'") for label in failed(outcome))


# --------------------------------------------------------------------------- bounded memory


def _verdicts(outcome: CheckOutcome) -> dict:
    keep = ("failed_expectations", "offending_ids", "offending_positions", "missing_ids")
    keep += ("unknown_ids", "duplicate_id_rows", "non_finite_scores", "repeated_rows")
    keep += ("out_of_range", "null_rows", "differing_positions", "missing_rows", "extra_rows")
    return {k: outcome.metadata[k] for k in keep if k in outcome.metadata} | {
        "passed": outcome.passed
    }


def test_chunked_validation_gives_the_same_verdicts_counts_and_offenders(monkeypatch):
    """Suites longer than CHUNK_ROWS run in chunks (uniqueness as an exact numpy flag):
    every verdict, count and offender must equal the one-frame validation."""
    from curation.quality import gx

    rng = np.random.default_rng(5)
    ids = np.array([f"doc-{i}" for i in range(40)])
    scores = rng.random(40)
    scores[[3, 33]] = np.nan
    dup = np.append(ids[5:], ["doc-7", "doc-39", "ghost"])
    perm = rng.permutation(40)
    bad_perm = perm.copy()
    bad_perm[[2, 31]] = bad_perm[[31, 2]]
    bad_perm[17] = bad_perm[36]
    shard_ids = ids.copy()
    shard_ids[[4, 29]] = shard_ids[[29, 4]]
    cases = [
        lambda: check_score_coverage(ids, ids, scores),
        lambda: check_score_coverage(ids, dup, np.ones(len(dup))),
        lambda: check_ordering(bad_perm, 40, perm),
        lambda: check_ordering(perm[:35], 40),
        lambda: check_shards(ids, shards_of(shard_ids, [9, 23]), [9, 14, 17]),
        lambda: check_shards(ids, shards_of(ids, [20])),
    ]
    whole = [_verdicts(case()) for case in cases]
    monkeypatch.setattr(gx, "CHUNK_ROWS", 7)
    chunked = [_verdicts(case()) for case in cases]
    assert chunked == whole
    assert not any(w["passed"] for w in whole[:5]) and whole[5]["passed"]
