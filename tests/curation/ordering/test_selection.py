"""Selection before ordering equals the reference's data_selection followed by data_ordering."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curation.ordering.engine import DEFAULTS, OverlapWarning
from curation.ordering.selection import (
    SelectionError,
    check_rule,
    order_selected,
    score_problem,
    select,
)
from curation.project import parse_project
from tests.curation.ordering.reference_selection import (
    ref_select_then_order,
    ref_threshold,
    ref_top_k,
    ref_top_r,
)

DETERMINISTIC = ("sorted", "folding", "zigzag", "str", "saw")


def rows_of(records: list[dict]) -> list[int]:
    return [rec["row"] for rec in records]


def records(scores: list[float]) -> list[dict]:
    return [{"row": i, "score": s} for i, s in enumerate(scores)]


# ----------------------------------------------------------------------------- known vectors


def test_top_rules_hand_on_ascending_and_keep_the_later_ties_at_the_cut():
    scores = [3.0, 1.0, 2.0, 2.0, 5.0, 2.0, 0.0]
    # ascending stable: rows 6(0) 1(1) 2(2) 3(2) 5(2) 0(3) 4(5); the last 4 = 3, 5, 0, 4
    assert select(scores, "top_k", 4).rows.tolist() == [3, 5, 0, 4]
    assert select(scores, "top_fraction", 0.6).rows.tolist() == [3, 5, 0, 4]  # int(7*.6)=4
    chosen = select(scores, "top_k", 4)
    assert chosen.applied_threshold == 2.0 and (chosen.kept, chosen.total) == (4, 7)


def test_keeping_everything_still_hands_on_in_ascending_order():
    scores = [3.0, 1.0, 2.0, 1.0]
    assert select(scores, "top_k", 10).rows.tolist() == [1, 3, 2, 0]
    assert select(scores, "top_fraction", 1.0).rows.tolist() == [1, 3, 2, 0]


def test_threshold_is_strict_and_keeps_input_order():
    scores = [3.0, 1.0, 2.0, 2.5, 2.0]
    chosen = select(scores, "threshold", 2.0)
    assert chosen.rows.tolist() == [0, 3]
    assert chosen.applied_threshold == 2.0


def test_rules_that_keep_nothing_are_refused_not_reproduced():
    # the reference's top_r keeps *everything* when int(n*r) == 0 (list[-0:]); we refuse
    assert rows_of(ref_top_r(records([1.0, 2.0]), 0.3)) == [0, 1]
    with pytest.raises(SelectionError, match=r"top_fraction 0.3 keeps nothing of 2 rows"):
        select([1.0, 2.0], "top_fraction", 0.3)
    with pytest.raises(SelectionError, match=r"threshold 5.0 keeps nothing.*highest score is 2.0"):
        select([1.0, 2.0], "threshold", 5.0)


@pytest.mark.parametrize(
    ("rule", "value", "message"),
    [
        ("top_fraction", 0.0, r"\(0, 1\]"),
        ("top_fraction", 1.01, r"\(0, 1\]"),
        ("top_k", 0, ">= 1"),
        ("top_k", 2.5, "integer"),
        ("threshold", float("inf"), "finite"),
        ("threshold", True, "number"),
        ("keep", 1, "unknown selection rule"),
    ],
)
def test_bad_rules(rule, value, message):
    with pytest.raises(SelectionError, match=message):
        check_rule(rule, value)


def test_non_finite_scores_are_named():
    with pytest.raises(ValueError, match=r"non-finite.*\[2\]"):
        select([1.0, 2.0, np.nan], "top_k", 1)


def test_threshold_needs_a_score_with_fixed_units():
    assert score_problem("threshold", None, ["a", "b"], "rank")
    assert score_problem("threshold", None, ["a", "b"], "none") is None
    assert score_problem("threshold", None, ["a"], "rank") is None  # one column: the raw score
    assert score_problem("threshold", "a", ["a", "b"], "rank") is None
    assert score_problem("top_k", None, ["a", "b"], "rank") is None
    assert "not a score column" in score_problem("top_k", "c", ["a", "b"], "rank")
    assert score_problem("threshold", None, None, "rank") is None  # unknown yet: checked later


# ----------------------------------------------------------------------------- reference equality

scores_st = st.one_of(
    st.lists(st.integers(0, 4).map(float), min_size=1, max_size=300),  # heavy ties
    st.lists(st.floats(-1e6, 1e6, allow_nan=False, width=32), min_size=1, max_size=300),
    st.lists(st.floats(-1e300, 1e300, allow_nan=False), min_size=1, max_size=120),
    st.lists(st.sampled_from([0.0, -0.0, 1.5, -1.5]), min_size=1, max_size=60),
)


@settings(max_examples=200, deadline=None)
@given(
    scores=scores_st,
    k=st.integers(1, 350),
    r=st.sampled_from([0.01, 0.1, 0.25, 0.5, 0.6, 0.999, 1.0]),
    t=st.sampled_from([-1.5, -0.0, 0.0, 1.0, 1.5, 2.0, 3.5]),
)
def test_each_rule_equals_the_reference(scores, k, r, t):
    arr = np.asarray(scores, dtype=np.float64)
    assert select(arr, "top_k", k).rows.tolist() == rows_of(ref_top_k(records(scores), k))
    if int(len(scores) * r) > 0:
        got = select(arr, "top_fraction", r).rows.tolist()
        assert got == rows_of(ref_top_r(records(scores), r))
    expected = rows_of(ref_threshold(records(scores), t))
    if expected:
        assert select(arr, "threshold", t).rows.tolist() == expected


def _params(method, ascending, layers, sections, ratio, window, seed) -> dict:
    params: dict = {"ascending": ascending, "window_size": window, "seed": seed}
    if method in ("folding", "str", "saw"):
        params["folding_layer"] = layers
    if method == "zigzag":
        params["zigzag_layer"] = layers
    if method in ("str", "saw"):
        params.update(num_sections=sections, folding_ratio=ratio)
    return params


@settings(max_examples=200, deadline=None)
@given(
    scores=scores_st,
    other=st.booleans(),
    rule=st.sampled_from(["top_fraction", "top_k", "threshold"]),
    value=st.sampled_from([0.1, 0.5, 0.6, 1.0, 3, 40, 1.5, 0.0]),
    method=st.sampled_from(DETERMINISTIC),
    ascending=st.booleans(),
    layers=st.integers(1, 5),
    sections=st.integers(1, 4),
    ratio=st.sampled_from([0.0, 0.075, 0.225, 0.4]),
    window=st.sampled_from([0, 2, 7, 50]),
    seed=st.integers(0, 2**31),
)
def test_selection_then_ordering_equals_the_reference(
    scores, other, rule, value, method, ascending, layers, sections, ratio, window, seed
):
    """Same kept set and same final sequence as data_selection then data_ordering, ties
    included; ``other``: the selection reads another (raw) score column than the ordering."""
    order_scores = np.asarray(scores, dtype=np.float64)
    rng = np.random.default_rng(len(scores))
    select_scores = rng.integers(0, 4, order_scores.size).astype(float) if other else order_scores
    if rule == "top_k":
        value = max(1, int(value * 10) if value < 1 else int(value))
    elif rule == "top_fraction":
        value = min(float(value), 1.0) if value > 0 else 0.5
    try:
        chosen = select(select_scores, rule, value)
    except SelectionError:  # refused where the reference keeps nothing (or, top_r K=0, all)
        if rule == "threshold":
            assert ref_threshold(records(select_scores.tolist()), value) == []
        else:
            assert rule == "top_fraction" and int(len(scores) * value) == 0
        return
    params = _params(method, ascending, layers, sections, ratio, window, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OverlapWarning)
        rows, _ = order_selected(order_scores, chosen, method, **params)
    expected = ref_select_then_order(
        select_scores.tolist(), scores, rule, value, method, **{**DEFAULTS[method], **params}
    )
    assert rows.tolist() == expected
    assert sorted(rows.tolist()) == sorted(chosen.rows.tolist())


def test_window_fraction_applies_to_the_kept_rows():
    raw = {
        "recipes": [
            {
                "name": "saw-top",
                "method": "saw",
                "params": {"window_fraction": 0.1},
                "select": {"top_fraction": 0.5},
            }
        ]
    }
    recipe = parse_project(raw).recipes[0]
    scores = np.random.default_rng(3).integers(0, 5, 200).astype(float)
    chosen = select(scores, *recipe.select.rule)
    params = recipe.ordering_params(chosen.kept)
    assert params["window_size"] == 10  # 0.1 of the 100 kept, not of the 200
    rows, ordering = order_selected(scores, chosen, "saw", **params)
    expected = ref_select_then_order(
        scores.tolist(), scores.tolist(), "top_fraction", 0.5, "saw", **params
    )
    assert rows.tolist() == expected
    assert ordering.metadata["n"] == 100


def test_large_inputs_stay_vectorised():
    scores = np.random.default_rng(0).integers(0, 6, 1_000_000).astype(np.float64)
    chosen = select(scores, "top_fraction", 0.6)
    assert chosen.kept == 600_000
    kept = scores[chosen.rows]
    assert np.all(np.diff(kept) >= 0)  # ascending
    assert kept.min() == chosen.applied_threshold
    ties = chosen.rows[kept == kept[0]]
    assert np.all(np.diff(ties) > 0)  # ties in input order, the later ones kept
    cut = np.flatnonzero(scores == kept[0])
    assert ties.tolist() == cut[cut.size - ties.size :].tolist()


# ----------------------------------------------------------------------------- checks and project


def test_the_ordering_check_refuses_rows_outside_the_recomputed_selection():
    from curation.quality import check_ordering

    scores = np.asarray([5.0, 1.0, 4.0, 0.0, 3.0, 2.0])
    chosen = select(scores, "top_k", 3)  # rows 4, 2, 0 (ascending)
    kept = np.zeros(scores.size, dtype=bool)
    kept[chosen.rows] = True
    rows, _ = order_selected(scores, chosen, "sorted")
    good = check_ordering(rows, scores.size, recomputed=rows, kept=kept)
    assert good.passed and "exactly the 3 kept of 6" in good.description
    swapped = np.asarray([4, 2, 5])  # row 5 was not kept, row 0 is missing
    bad = check_ordering(swapped, scores.size, recomputed=rows, kept=kept)
    assert not bad.passed
    assert bad.metadata["outside_selection"] == 1
    whole = check_ordering(np.arange(6), scores.size, kept=kept)  # every row: too many
    assert not whole.passed and whole.metadata["outside_selection"] == 3


@pytest.mark.parametrize(
    ("select_spec", "scores", "message"),
    [
        ({"top_fraction": 1.5}, {}, r"recipes\[0\] \(name 'r'\)\.select\.top_fraction: .*\(0, 1\]"),
        ({"top_k": 0}, {}, r"select\.top_k: top_k must be an integer >= 1"),
        ({}, {}, r"select: give exactly one of top_fraction, top_k, threshold"),
        (
            {"threshold": 0.5},
            {"scorers": ["compression", "length"]},
            r"recipes\[0\] \(name 'r'\)\.select: a threshold on the combined, rank-normalised",
        ),
        (
            {"top_k": 5, "score": "edu"},
            {"scorers": ["compression"]},
            r"score 'edu' is not a score column",
        ),
    ],
)
def test_the_project_file_refuses_bad_selections_naming_the_key(select_spec, scores, message):
    from curation.project import RecipeError

    raw = {"scores": scores, "recipes": [{"name": "r", "method": "sorted", "select": select_spec}]}
    with pytest.raises(RecipeError, match=message):
        parse_project(raw, source="curation.yaml")


def test_a_threshold_on_a_named_raw_column_or_a_single_score_is_accepted():
    for scores, spec in (
        ({"scorers": ["compression", "length"]}, {"threshold": 0.5, "score": "length"}),
        ({"scorers": ["compression"]}, {"threshold": 0.5}),
        ({"scorers": ["compression", "length"], "normalize": "none"}, {"threshold": 0.5}),
    ):
        raw = {"scores": scores, "recipes": [{"name": "r", "method": "saw", "select": spec}]}
        assert parse_project(raw).recipes[0].select.rule == ("threshold", 0.5)


def test_selection_is_part_of_the_recipe_fingerprint_only_when_given():
    def fingerprint(extra: dict) -> str:
        raw = {"recipes": [{"name": "r", "method": "saw", **extra}]}
        return parse_project(raw).recipes[0].fingerprint()

    plain = fingerprint({})
    assert plain == fingerprint({"select": None})
    assert fingerprint({"select": {"top_fraction": 0.5}}) != plain
    assert fingerprint({"select": {"top_fraction": 0.5}}) != fingerprint(
        {"select": {"top_fraction": 0.6}}
    )
