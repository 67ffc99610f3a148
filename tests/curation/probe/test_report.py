"""The report gathers finished runs, names missing ones, and keeps plots bounded."""

import numpy as np
import pytest

from curation.probe import summary
from curation.probe.report import MAX_POINTS, downsample, write_report
from curation.probe.result import ProbeResult
from tests.curation.probe.conftest import TINY


def _fake(recipe: str, seed: int, final: float, steps: int = 5000, bounds=None) -> ProbeResult:
    """A result with a chosen final loss: aggregation logic without training time."""
    evals = np.linspace(0, steps, 31).astype(int).tolist()
    curve = (3 + 2 * np.exp(-np.linspace(0, 8, 31))).tolist()
    curve[-1] = final
    g = np.random.default_rng(seed).random(steps) + 1
    return ProbeResult(
        recipe=recipe,
        seed=seed,
        config=TINY.to_dict(),
        n_params=10,
        steps=steps,
        tokens=steps * 64,
        stream_tokens=steps * 70,
        train_loss=np.linspace(5, 3, steps).tolist(),
        grad_norm=g.tolist(),
        eval_steps=evals,
        eval_loss={"heldout_random": curve, "heldout_low": curve},
        eval_tokens={"heldout_random": 256, "heldout_low": 256},
        step_scores=np.linspace(0, 1, steps).tolist(),
        boundary_steps=bounds or {},
        diagnostics={
            "low_rebound": {"rebound": 0.01 * seed, "noise": 0.001, "z": 10.0 * seed},
            "boundary": {
                k: {"boundary": 1.3, "control": 1.0, "excess": 1.3 + 0.01 * seed, "n": len(v)}
                for k, v in (bounds or {}).items()
            },
        },
        tokens_per_s=1.0,
        train_s=1.0,
        wall_s=1.0,
        device="cpu",
    )


def test_report_resolves_only_what_the_seeds_resolve_and_names_missing_runs(tmp_path):
    results = [_fake("random", s, 3.0 + d) for s, d in enumerate([0.0, 0.01, -0.01])]
    results += [_fake("noisy", s, 3.0 + d) for s, d in enumerate([0.011, 0.0, -0.008])]
    results += [
        _fake("clear", s, 3.05 + d, bounds={"fold": list(range(0, 5000, 2))})
        for s, d in enumerate([0.0, 0.011, -0.009])
    ]
    expected = [(r, s) for r in ("random", "noisy", "clear", "lost") for s in range(3)]
    rep = write_report(results, str(tmp_path / "rep"), expected=expected, title="T")
    rows = {r["recipe"]: r for r in rep["rows"]}
    assert rows["noisy"]["heldout_random"]["vs_baseline"]["verdict"] == "unresolved"
    assert rows["clear"]["heldout_random"]["vs_baseline"]["verdict"] == "worse"
    assert rep["missing"] == [("lost", 0), ("lost", 1), ("lost", 2)]
    md = open(rep["report_path"]).read()
    assert md == rep["markdown"]
    assert "**Missing runs (3)**: lost/seed 0, lost/seed 1, lost/seed 2" in md
    assert "`clear` vs `random`: worse (95% CI" in md
    assert "n/a (no boundaries)" in md and "fold: 1.310" in md
    assert rows["clear"]["low_rebound"]["visible_seeds"] == 2  # seeds 1 and 2 (z 10, 20)
    flat = {r["recipe"]: r for r in rep["table"]}
    assert flat["clear"]["heldout_random_verdict"] == "worse"
    assert all(isinstance(v, (str, int, float)) for r in rep["table"] for v in r.values())
    assert len(rep["images"]) == 4
    for p in rep["images"]:
        with open(p, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_downsample_bounds_every_curve():
    x = np.arange(1_000_003)
    xs, ys = downsample(x, x * 2.0)
    assert xs.size == ys.size == MAX_POINTS
    np.testing.assert_allclose(ys, xs * 2.0)
    small = downsample(np.arange(10), np.arange(10))
    assert small[0].size == 10


def test_duplicate_runs_are_refused():
    with pytest.raises(summary.ProbeReportError, match="duplicate"):
        summary.summarize([_fake("a", 0, 1.0), _fake("a", 0, 1.0)])
    with pytest.raises(summary.ProbeReportError, match="no finished"):
        summary.summarize([])


def test_report_says_what_each_recipe_kept_and_when_its_budget_was_capped(tmp_path):
    from dataclasses import replace

    from curation.probe.report import data_section

    selection = {
        "rule": "top_fraction",
        "value": 0.6,
        "score": None,
        "score_column": "_curation_score",
        "driving_columns": ["compression"],
        "applied_threshold": 0.4321,
        "kept": 624,
        "total": 1040,
    }
    config = {**TINY.to_dict(), "token_budget": 10**9}
    plain = [_fake("random", s, 3.0) for s in range(2)]
    assert data_section(plain) == []  # nothing selected, no budget capped: no section
    kept = [
        replace(
            _fake("saw-top60", s, 3.0, steps=300),
            config=config,
            extra={"selection": selection, "budget_capped": True},
        )
        for s in range(2)
    ]
    md = "\n".join(data_section(plain + kept))
    assert "| random | all | none |" in md
    assert (
        "| saw-top60 | 624 of 1,040 (60%) | top_fraction 0.6 on the driving score (compression) "
        "(cut 0.4321) | 300 | 19,200 | 21,000 | capped by kept tokens (1,000,000,000 asked) |"
    ) in md
    rep = write_report(plain + kept, str(tmp_path / "rep"), title="T")
    assert "## Training data per recipe" in rep["markdown"]
    assert "how many per recipe: below" in rep["markdown"]
