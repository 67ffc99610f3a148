"""The ordering engine equals the reference, is a permutation, and rejects bad input."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curation.ordering.engine import (
    DEFAULTS,
    METHODS,
    OverlapWarning,
    fold_permutation,
    order,
    stable_argsort,
)
from tests.curation.ordering.reference_ordering import ref_fold, ref_order

DETERMINISTIC = ("sorted", "folding", "zigzag", "str", "saw")


def ids(n: int) -> np.ndarray:
    return np.arange(n, dtype=np.float64)


# ----------------------------------------------------------------------------- spec vectors


def test_descending_ties_keep_input_order():
    scores = [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert order(scores, "sorted", ascending=False).tolist() == [6, 7, 8, 3, 4, 5, 0, 1, 2]
    assert order(scores, "sorted").tolist() == list(range(9))


def test_fold_and_zigzag_vectors():
    assert order(ids(9), "folding", folding_layer=3).tolist() == [0, 3, 6, 1, 4, 7, 2, 5, 8]
    assert order(ids(9), "zigzag", zigzag_layer=3).tolist() == [0, 3, 6, 7, 4, 1, 2, 5, 8]
    assert order(ids(12), "folding", folding_layer=5).tolist() == [
        0,
        5,
        10,
        1,
        6,
        11,
        2,
        7,
        3,
        8,
        4,
        9,
    ]
    assert order(ids(12), "zigzag", zigzag_layer=5).tolist() == [
        0,
        5,
        10,
        11,
        6,
        1,
        2,
        7,
        8,
        3,
        4,
        9,
    ]


@pytest.mark.parametrize(
    ("n", "method", "params", "expected"),
    [
        (20, "str", {}, [*range(6), 6, 9, 12, 7, 10, 13, 8, 11, *range(14, 20)]),
        (20, "saw", {}, [*range(5), 5, 7, 8, 6, 9, 10, 11, 13, 14, 12, *range(15, 20)]),
        (
            20,
            "str",
            {"num_sections": 3, "folding_ratio": 1 / 12, "folding_layer": 2},
            [*range(6), 7, 6, *range(8, 12), 13, 12, *range(14, 20)],
        ),
        (
            20,
            "saw",
            {"num_sections": 3, "folding_ratio": 1 / 12, "folding_layer": 2},
            [*range(6), 7, 8, 6, 9, 10, 11, 13, 14, 12, *range(15, 20)],
        ),
        (12, "str", {}, [0, 1, 2, 3, 6, 4, 7, 5, 8, 9, 10, 11]),
        (
            20,
            "str",
            {"ascending": False},
            [*range(19, 12, -1), 10, 7, 12, 9, 6, 11, 8, 5, *range(4, -1, -1)],
        ),
    ],
)
def test_spec_vectors(n, method, params, expected):
    result = order(ids(n), method, **params)
    assert result.tolist() == expected
    assert result.tolist() == ref_order(ids(n).tolist(), method, **{**DEFAULTS[method], **params})


# ----------------------------------------------------------------------------- reference equality

scores_st = st.one_of(
    # many ties: few distinct values
    st.lists(st.integers(0, 4).map(float), min_size=0, max_size=300),
    st.lists(st.floats(-1e6, 1e6, allow_nan=False, width=32), min_size=0, max_size=300),
    st.lists(st.floats(-1e300, 1e300, allow_nan=False), min_size=0, max_size=120),
    st.lists(st.sampled_from([0.0, -0.0, 1.5, -1.5]), min_size=0, max_size=60),
)


@settings(max_examples=150, deadline=None)
@given(
    scores=scores_st,
    method=st.sampled_from(DETERMINISTIC),
    ascending=st.booleans(),
    layers=st.integers(1, 7),
    sections=st.integers(1, 6),
    ratio=st.sampled_from([0.0, 0.01, 0.075, 0.1, 0.225, 0.3, 0.5, 0.8]),
    window=st.sampled_from([0, 1, 2, 7, 50]),
    seed=st.integers(0, 2**31),
)
def test_equals_reference(scores, method, ascending, layers, sections, ratio, window, seed):
    params: dict = {"ascending": ascending, "window_size": window, "seed": seed}
    if method in ("folding", "str", "saw"):
        params["folding_layer"] = layers
    if method == "zigzag":
        params["zigzag_layer"] = layers
    if method in ("str", "saw"):
        params.update(num_sections=sections, folding_ratio=ratio)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OverlapWarning)
        got = order(np.asarray(scores, dtype=np.float64), method, **params)
    assert got.tolist() == ref_order(scores, method, **{**DEFAULTS[method], **params})


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 200), st.integers(1, 300), st.booleans())
def test_fold_permutation_matches_slicing(n, layers, zigzag):
    assert fold_permutation(n, layers, zigzag).tolist() == ref_fold(list(range(n)), layers, zigzag)


def test_float32_fast_path_equals_stable_argsort():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 50, 10_000).astype(np.float32) / 7
    for ascending in (True, False):
        fast = stable_argsort(scores, ascending)
        slow = np.argsort(scores.astype(np.float64) * (1 if ascending else -1), kind="stable")
        assert np.array_equal(fast, slow)


def test_float64_not_representable_in_float32_uses_exact_sort():
    scores = np.array([1.0 + 1e-12, 1.0, 1.0 + 2e-12, 1.0])
    assert order(scores, "sorted").tolist() == [1, 3, 0, 2]
    assert order(scores, "sorted", ascending=False).tolist() == [2, 0, 1, 3]


# ----------------------------------------------------------------------------- properties


@settings(max_examples=80, deadline=None)
@given(
    scores=st.lists(st.floats(-100, 100, allow_nan=False), max_size=200),
    method=st.sampled_from(METHODS),
    seed=st.integers(0, 1000),
)
def test_every_method_is_a_deterministic_permutation(scores, method, seed):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = order(scores, method, seed=seed)
        b = order(scores, method, seed=seed)
    assert a.dtype == np.int64
    assert np.array_equal(np.sort(a), np.arange(len(scores)))
    assert np.array_equal(a, b)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(0, 400),
    window=st.integers(2, 60),
    method=st.sampled_from(DETERMINISTIC),
    seed=st.integers(0, 99),
)
def test_jit_keeps_each_windows_set(n, window, method, seed):
    scores = np.random.default_rng(seed).normal(size=n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        base = order(scores, method)
        jit = order(scores, method, window_size=window, seed=seed)
    for start in range(0, n, window):
        assert set(base[start : start + window]) == set(jit[start : start + window])


@settings(max_examples=60, deadline=None)
@given(n=st.integers(10, 500), x=st.integers(0, 40), y=st.integers(0, 40), seed=st.integers(0, 99))
def test_segment_blocks_hold_lowest_and_highest(n, x, y, seed):
    scores = np.random.default_rng(seed).permutation(n).astype(float)  # distinct scores
    result = order(scores, "segment", x_pct=x, y_pct=y, seed=seed)
    nf, nb = int(n * x // 100), int(n * y // 100)
    ranks = scores[result]
    assert set(ranks[:nf]) == set(range(nf))
    assert set(ranks[n - nb :]) == set(range(n - nb, n))
    assert result.metadata["n_front"] == nf and result.metadata["n_back"] == nb


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 500),
    sections=st.integers(2, 5),
    seed=st.integers(0, 99),
    method=st.sampled_from(["str", "saw"]),
)
def test_str_saw_section_structure(n, sections, seed, method):
    """Outside the transition regions the order is the sorted order; regions hold their ranks."""
    ratio = 0.4 / (2 * sections)  # never overlapping
    scores = np.random.default_rng(seed).permutation(n).astype(float)
    result = order(scores, method, num_sections=sections, folding_ratio=ratio)
    ranks = scores[result].astype(int)
    inside = np.zeros(n, dtype=bool)
    for start, end in result.metadata["regions"]:
        inside[start:end] = True
        assert sorted(ranks[start:end]) == list(range(start, end))
    assert np.array_equal(ranks[~inside], np.flatnonzero(~inside))


# ----------------------------------------------------------------------------- errors and warnings


def test_overlap_warns_and_is_recorded():
    with pytest.warns(OverlapWarning):
        result = order(ids(20), "str", num_sections=2, folding_ratio=0.3)
    assert result.metadata["clamped"] is True
    assert result.metadata["warnings"]
    assert result.tolist() == ref_order(
        ids(20).tolist(), "str", **{**DEFAULTS["str"], "folding_ratio": 0.3}
    )


def test_defaults_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        order(ids(100), "str")
        order(ids(100), "saw")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "bogus"}, "unknown ordering method 'bogus'"),
        ({"method": "str", "folding_layer": 0}, "folding_layer must be >= 1"),
        ({"method": "str", "folding_ratio": -0.1}, "folding_ratio must be a finite number >= 0"),
        ({"method": "str", "num_sections": 0}, "num_sections must be >= 1"),
        ({"method": "sorted", "folding_layer": 2}, "unknown parameter(s) ['folding_layer']"),
        ({"method": "zigzag", "zigzag_layer": 1.5}, "zigzag_layer must be an integer"),
        ({"method": "segment", "ascending": False}, "unknown parameter(s) ['ascending']"),
        ({"method": "saw", "window_size": 2.7}, "window_size must be an integer"),
        ({"method": "saw", "window_size": -3}, "window_size must be >= 0"),
    ],
)
def test_bad_parameters(kwargs, message):
    with pytest.raises(ValueError) as exc:
        order(ids(10), **kwargs)
    assert message in str(exc.value)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_scores_name_positions(bad):
    scores = ids(30)
    scores[[4, 17]] = bad
    with pytest.raises(ValueError, match=r"2 non-finite score.*\[4, 17\]"):
        order(scores, "str")


def test_non_numeric_and_2d_scores():
    with pytest.raises(ValueError, match="numeric"):
        order(np.array(["a", "b"]), "sorted")
    with pytest.raises(ValueError, match="1-D"):
        order(np.zeros((2, 2)), "sorted")


def test_empty_input():
    for method in METHODS:
        assert order([], method).tolist() == []


@pytest.mark.parametrize("layers", [65, 100, 1000])
def test_many_layers_use_the_gather_path(layers):
    scores = np.random.default_rng(layers).integers(0, 9, 777).astype(float)
    for method, key in (("folding", "folding_layer"), ("zigzag", "zigzag_layer")):
        got = order(scores, method, **{key: layers})
        assert got.tolist() == ref_order(
            scores.tolist(), method, **{**DEFAULTS[method], key: layers}
        )
