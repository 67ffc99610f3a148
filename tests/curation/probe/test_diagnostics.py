"""Diagnostics and statistics on synthetic inputs whose answer is known."""

import numpy as np
import pytest
from scipy import stats as sps

from curation.ordering.engine import boundaries, order
from curation.probe import diagnostics, stats


def _curve(kind: str, noise: float, seed: int = 0, n: int = 40):
    steps = np.linspace(0, 1000, n).astype(int)
    x = steps / 1000
    base = 3 + 2 * np.exp(-8 * x)
    if kind == "rebound":
        base = base + 0.05 * np.clip(x - 0.7, 0, None) / 0.3
    return steps.tolist(), (base + np.random.default_rng(seed).normal(0, noise, n)).tolist()


def test_rebound_is_seen_above_its_noise_and_not_invented():
    up = diagnostics.rebound(*_curve("rebound", 0.002))
    assert up["rebound"] == pytest.approx(0.04, abs=0.015) and up["z"] > 5
    flat = diagnostics.rebound(*_curve("fall", 0.002))
    assert flat["rebound"] < 2 * flat["noise"] + 1e-12
    assert diagnostics.rebound([0, 1], [5.0, 4.0])["rebound"] is None  # too few points


def test_rebound_visibility_rule_is_calibrated():
    """z > REBOUND_Z (the report's 'visible') is rare without a rebound, and a rebound
    five times the noise is seen nearly always; the minimum's selection bias is why the
    threshold is 3 and not 2."""
    z = diagnostics.REBOUND_Z_VISIBLE
    null = [diagnostics.rebound(*_curve("fall", 0.05, seed=s))["z"] for s in range(100)]
    real = [diagnostics.rebound(*_curve("rebound", 0.01, seed=s))["z"] for s in range(100)]
    assert np.mean(np.array(null) > z) < 0.05
    assert np.mean(np.array(real) > z) > 0.95


def test_boundary_ratio_finds_real_shocks_against_matched_steps():
    rng = np.random.default_rng(0)
    g = 1 + 0.05 * rng.standard_normal(2000)
    b = [400, 800, 1200, 1600]
    shocked = g.copy()
    shocked[b] *= 1.5
    hit = diagnostics.boundary_ratio(shocked, b, 20, 3, skip=50)
    assert hit["excess"] == pytest.approx(1.5 / 1.06, rel=0.08) and hit["n"] == 4
    calm = diagnostics.boundary_ratio(g, b, 20, 3, skip=50)
    assert calm["excess"] == pytest.approx(1.0, abs=0.06)
    none = diagnostics.boundary_ratio(g, [], 20, 3, skip=50)
    assert none["n"] == 0 and none["excess"] is None
    warm = diagnostics.boundary_ratio(shocked, [10], 20, 3, skip=50)  # inside warmup
    assert warm["n"] == 0


@pytest.mark.parametrize("method", ["folding", "zigzag", "str", "saw"])
def test_ordering_boundaries_are_where_the_rank_shape_breaks(method):
    n = 2000
    scores = np.random.default_rng(3).random(n)
    positions = np.asarray(order(scores, method))
    ranks = np.argsort(np.argsort(scores))[positions]
    step = np.diff(ranks)
    kinds = boundaries(method, {}, n)
    assert kinds and all(v.size for v in kinds.values())
    allb = set(np.concatenate(list(kinds.values())).tolist())
    jumps = np.flatnonzero(np.abs(step) > 50) + 1  # rank jumps: more than a sorted step
    small = np.abs(step) <= 50
    flips = (np.sign(step[1:]) != np.sign(step[:-1])) & small[1:] & small[:-1]
    turns = np.flatnonzero(flips) + 1  # direction changes between ordinary steps
    breaks = set(jumps.tolist()) | set(turns.tolist())
    near = {x + d for x in breaks for d in (-1, 0, 1)}  # a turn's vertex is b - 1 or b
    assert breaks and all({x - 1, x, x + 1} & allb for x in breaks)  # every break is named
    for kind in ("fold", "turn"):  # and these kinds are always real breaks
        assert set(kinds.get(kind, np.empty(0)).tolist()) <= near


def test_random_and_sorted_have_no_boundaries_and_segment_its_blocks():
    assert boundaries("random", {}, 1000) == {} and boundaries("sorted", {}, 1000) == {}
    got = boundaries("segment", {"x_pct": 10.0, "y_pct": 20.0}, 1000)
    assert got["section"].tolist() == [100, 800]


def test_paired_interval_matches_a_t_test():
    base = {0: 3.00, 1: 3.01, 2: 2.99, 3: 3.00}
    other = {0: 3.02, 1: 3.04, 2: 3.01, 3: 3.03, 9: 1.0}  # seed 9 has no pair: ignored
    got = stats.paired(other, base)
    d = np.array([0.02, 0.03, 0.02, 0.03])
    lo, hi = sps.t.interval(0.95, 3, loc=d.mean(), scale=sps.sem(d))
    assert (
        got["n"] == 4 and got["ci_low"] == pytest.approx(lo) and got["ci_high"] == pytest.approx(hi)
    )
    assert got["verdict"] == "worse" and "worse" in stats.power_statement(got)


def test_seeds_to_resolve_is_the_smallest_sufficient_count():
    need = stats.seeds_to_resolve(0.01, 0.01)
    assert stats.t_halfwidth(0.01, need) < 0.01 <= stats.t_halfwidth(0.01, need - 1)
    assert stats.seeds_to_resolve(0.0, 0.01) is None
    assert stats.seeds_to_resolve(1e-9, 1.0) is None  # beyond any sensible budget
    weak = stats.paired({0: 1.0, 1: 1.02, 2: 0.99}, {0: 1.0, 1: 1.0, 2: 1.0})
    assert weak["verdict"] == "unresolved"
    text = stats.power_statement(weak)
    assert f"about {weak['seeds_to_resolve']} seeds" in text
    one = stats.paired({0: 1.0}, {0: 2.0})
    assert one["verdict"].startswith("unresolved (fewer") and "no noise" in stats.power_statement(
        one
    )
