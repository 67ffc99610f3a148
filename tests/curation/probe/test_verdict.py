"""The verdict preset on real text (~20 min of both cores, so slow): random and sorted
must differ beyond the seeds' spread on the random held-out split, and sorted must show
a positive low-score rebound on every seed. bench/probe.py --verdict records the numbers
(there the rebound was positive on every seed but below its noise)."""

import os
import tempfile

import pyarrow.parquet as pq
import pytest

from curation.probe.config import preset
from curation.probe.experiment import make_jobs, run_many, scored_sample
from curation.probe.report import write_report

CACHE = os.path.join(tempfile.gettempdir(), "curation-demo-cache")


def _demo_table():
    try:
        from demo.data import prepare_demo_corpus
    except ImportError:  # before the demo left the library
        from curation.demo_data import prepare_demo_corpus
    return pq.read_table(prepare_demo_corpus(CACHE, CACHE))


@pytest.mark.slow
def test_verdict_preset_separates_random_from_sorted(tmp_path):
    table, scores = scored_sample(_demo_table(), 1_500_000)
    cfg = preset("verdict")
    jobs = make_jobs(
        table, scores, ["random", "sorted", "folding", "str", "saw"], cfg, str(tmp_path)
    )
    results = run_many(jobs, workers=2)
    rep = write_report(
        results, str(tmp_path / "report"), expected=[(j.recipe, j.seed) for j in jobs]
    )
    assert rep["missing"] == []
    rows = {r["recipe"]: r for r in rep["rows"]}
    comp = rows["sorted"]["heldout_random"]["vs_baseline"]
    spread = max(rows[r]["heldout_random"]["sd"] for r in ("random", "sorted"))
    # beyond the seeds' spread; the stricter paired 95% interval did not resolve it on this
    # text at 3 seeds (+0.0200 [-0.0005, +0.0404], bench/results/probe_verdict.txt)
    assert comp["n"] == 3 and abs(comp["mean"]) > 2 * spread, comp["statement"]
    sorted_runs = [r for r in results if r.recipe == "sorted"]
    rebounds = [r.diagnostics["low_rebound"]["rebound"] for r in sorted_runs]
    assert all(v is not None and v > 0 for v in rebounds), rebounds
    for recipe in ("random", "sorted"):
        assert rows[recipe]["boundary"] == {}
    assert rows["folding"]["boundary"]["fold"]["n_boundaries"] >= 1
