"""Aggregate probe runs per ordering and compare each with the baseline, paired by seed.

Orderings are compared on the same seeds (same initial weights, same evaluation bytes),
so the honest noise estimate for a difference is the spread of the *paired*
differences across seeds, not the spread of each method alone.
"""

import math
from collections import defaultdict

import numpy as np

from curation.probe.train import ProbeResult

#: The rule the report applies, stated in words for the markdown.
NOISE_RULE = (
    "A difference is called **within noise** when |mean paired difference| <= 2 x the "
    "standard deviation (ddof=1) of the per-seed paired differences, or when fewer than 2 "
    "seeds are shared with the baseline (noise unknown). Lower bits/byte is better. "
    "With 2-3 seeds the standard deviation itself is rough: treat verdicts near the "
    "threshold as undecided."
)


class ProbeReportError(ValueError):
    """Results that cannot be aggregated (empty, duplicated runs)."""


def group_by_method(results: list[ProbeResult]) -> dict[str, dict[int, ProbeResult]]:
    """``{method: {seed: result}}``, refusing duplicate (method, seed) runs."""
    if not results:
        raise ProbeReportError("no probe results to aggregate")
    out: dict[str, dict[int, ProbeResult]] = defaultdict(dict)
    dupes = []
    for r in results:
        if r.seed in out[r.method]:
            dupes.append((r.method, r.seed))
        out[r.method][r.seed] = r
    if dupes:
        raise ProbeReportError(f"duplicate (method, seed) runs: {dupes[:10]}")
    return dict(out)


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (NaN std for a single value)."""
    arr = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if arr.size == 0:
        return float("nan"), float("nan")
    return float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else float("nan")


def paired_difference(method: dict[int, float], baseline: dict[int, float]) -> dict:
    """Mean and sd of ``method - baseline`` over the seeds both have."""
    seeds = sorted(set(method) & set(baseline))
    diffs = [method[s] - baseline[s] for s in seeds]
    mean, sd = mean_std(diffs)
    return {"mean": mean, "sd": sd, "n": len(seeds), "verdict": verdict(mean, sd, len(seeds))}


def verdict(mean: float, sd: float, n: int) -> str:
    """Apply :data:`NOISE_RULE` to a paired difference in bits/byte."""
    if n < 2 or not math.isfinite(sd) or not math.isfinite(mean):
        return "noise unknown (<2 seeds)"
    if abs(mean) <= 2 * sd:
        return "within noise"
    return "better" if mean < 0 else "worse"


def rebound(curve: list[float]) -> float:
    """Rise of the final value above the curve's minimum (0 for a monotone fall)."""
    arr = np.asarray(curve, dtype=float)
    return float(arr[-1] - arr.min()) if arr.size else float("nan")


def boundary_ratio(result: ProbeResult) -> float:
    """Mean gradient-norm ratio over the run's boundary steps (NaN without any)."""
    vals = [v for v in result.boundary_ratios if v is not None]
    return float(np.mean(vals)) if vals else float("nan")


def eval_names(results: list[ProbeResult]) -> list[str]:
    """Evaluation sets present in every run, in first-seen order."""
    names = list(results[0].final_eval)
    return [n for n in names if all(n in r.final_eval for r in results)]


def summarize(
    results: list[ProbeResult], baseline: str = "random", low_set: str = "heldout_low"
) -> list[dict]:
    """One row per method: final bits/byte per eval set (mean, std), paired difference
    against ``baseline`` with its verdict, low-score rebound, boundary ratio, spikes, speed."""
    groups = group_by_method(results)
    names = eval_names(results)
    base = groups.get(baseline)
    rows = []
    for method, runs in groups.items():
        row: dict = {"method": method, "seeds": sorted(runs)}
        for name in names:
            per_seed = {s: r.final_eval[name] for s, r in runs.items()}
            row[f"{name}.mean"], row[f"{name}.std"] = mean_std(list(per_seed.values()))
            if base is not None and method != baseline:
                diff = paired_difference(per_seed, {s: r.final_eval[name] for s, r in base.items()})
                for k, v in diff.items():
                    row[f"{name}.diff_{k}"] = v
        if low_set in names:
            rb = {s: rebound(r.eval_loss[low_set]) for s, r in runs.items()}
            row["low_rebound.mean"], row["low_rebound.std"] = mean_std(list(rb.values()))
        row["boundary_ratio.mean"], row["boundary_ratio.std"] = mean_std(
            [boundary_ratio(r) for r in runs.values()]
        )
        row["spikes.mean"], _ = mean_std([float(r.spike_count) for r in runs.values()])
        row["tokens_per_s.mean"], _ = mean_std([r.tokens_per_s for r in runs.values()])
        row["wall_s.mean"], _ = mean_std([r.wall_s for r in runs.values()])
        rows.append(row)
    order = {baseline: 0}
    rows.sort(key=lambda r: order.get(r["method"], 1))
    return rows
