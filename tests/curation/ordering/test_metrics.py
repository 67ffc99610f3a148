"""Guideline metrics see what each ordering is built to do."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curation.ordering.engine import guideline_metrics, order
from curation.ordering.metrics import (
    count_sweeps,
    expected_shape,
    longest_gap,
    percentile_ranks,
    score_curve,
)

N = 20_000


@pytest.fixture(scope="module")
def scores() -> np.ndarray:
    return np.random.default_rng(1).normal(size=N)


def measure(scores, method, **params):
    result = order(scores, method, **params)
    return guideline_metrics(scores, result, batch_size=16, ascending=params.get("ascending", True))


def test_sorted_has_sharp_boundaries_one_sweep_no_cliffs(scores):
    m = measure(scores, "sorted")
    assert m["boundary_first_q"] < 0.06 and m["boundary_last_q"] > 0.94
    assert m["cycles"] == 1 and m["cliffs"] == 0
    assert m["revisit_gap"] == pytest.approx(0.75, abs=0.01)
    assert m["local_diversity"] < 0.01


def test_folding_cycles_and_cliffs(scores):
    m = measure(scores, "folding", folding_layer=4)
    assert m["cycles"] == 4 and m["cliffs"] == 3
    assert m["revisit_gap"] < 0.25


def test_zigzag_is_continuous(scores):
    m = measure(scores, "zigzag", zigzag_layer=5)
    assert m["cliffs"] == 0 and m["cycles"] == 3


def test_random_is_locally_diverse(scores):
    m = measure(scores, "random")
    assert m["local_diversity"] > 0.9
    assert 0.45 < m["boundary_first_q"] < 0.55


def test_jit_raises_local_diversity(scores):
    plain = measure(scores, "str")["local_diversity"]
    jit = measure(scores, "str", window_size=2000)["local_diversity"]
    assert jit > 10 * plain


def test_descending_cliffs_count_rises(scores):
    assert measure(scores, "sorted", ascending=False)["cliffs"] == 0


@pytest.mark.parametrize(
    ("method", "params"), [("saw", {"folding_layer": 3}), ("sorted", {}), ("str", {}), ("saw", {})]
)
def test_expected_shape_holds_for_builtin_methods(scores, method, params):
    m = measure(scores, method, **params)
    full = order(scores[:0], method, **params).metadata["params"]
    for key, bounds in expected_shape(method, full).items():
        assert bounds.get("min", -np.inf) <= m[key] <= bounds.get("max", np.inf), key


def test_helpers():
    assert count_sweeps(np.array([0.1, 0.95, 0.2, 0.3, 0.99])) == 2
    assert count_sweeps(np.array([0.6, 0.7])) == 0
    assert longest_gap(np.array([True, False, False, False, True])) == 3
    assert longest_gap(np.zeros(5, dtype=bool)) == 5
    curve = score_curve(np.arange(10.0), points=5)
    assert curve["score"] == [0.5, 2.5, 4.5, 6.5, 8.5]


def test_empty_and_constant():
    assert guideline_metrics([], [])["n"] == 0
    m = guideline_metrics(np.ones(50), np.arange(50))
    assert m["max_jump"] == 0 and m["cliffs"] == 0 and m["local_diversity"] == 0


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, 1.0])),
        max_size=60,
    )
)
def test_percentile_ranks_are_the_lowest_rank_of_each_tie(values):
    """Equal to the definition: the number of scores below (NaN: above every number)."""
    scores = np.asarray(values, dtype=np.float64)
    ordered = np.sort(scores)
    expected = np.searchsorted(ordered, scores, side="left") / max(scores.size, 1)
    np.testing.assert_array_equal(percentile_ranks(scores), expected)
