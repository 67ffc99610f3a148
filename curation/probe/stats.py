"""Paired comparisons across seeds, with a confidence interval and a power statement.

Recipes are compared on the same seeds (same initial weights, same evaluation tokens),
so the noise of a difference is the spread of the per-seed *paired* differences. A
difference is resolved when its 95% t interval excludes zero; when it is not, the report
says how many seeds would resolve the observed difference at the observed noise.
"""

import math

import numpy as np
from scipy import stats as sps

LEVEL = 0.95
MAX_SEEDS = 1000

RULE = (
    "Each comparison is the per-seed paired difference (recipe minus baseline, same seed = "
    "same initial weights and evaluation tokens; lower is better) with a 95% Student-t "
    "interval over seeds. **Resolved** when the interval excludes 0. *Seeds to resolve*: "
    "the fewest seeds whose interval half-width at the observed paired sd would be below "
    "the observed |difference| (a planning estimate, not a guarantee; with 2-3 seeds the "
    "sd itself is rough). *Detectable*: the smallest difference this many seeds resolve."
)


def t_halfwidth(sd: float, n: int) -> float:
    """Half-width of the ``LEVEL`` t interval of a mean of ``n`` values with sd ``sd``."""
    if n < 2 or not math.isfinite(sd):
        return math.nan
    return float(sps.t.ppf(0.5 + LEVEL / 2, n - 1) * sd / math.sqrt(n))


def seeds_to_resolve(mean: float, sd: float) -> int | None:
    """Fewest seeds n >= 2 with t-halfwidth(sd, n) < |mean| (None beyond MAX_SEEDS)."""
    if not (math.isfinite(mean) and math.isfinite(sd)) or mean == 0:
        return None
    if sd == 0:
        return 2
    n = np.arange(2, MAX_SEEDS + 1)
    width = sps.t.ppf(0.5 + LEVEL / 2, n - 1) * sd / np.sqrt(n)
    ok = np.flatnonzero(width < abs(mean))
    return int(n[ok[0]]) if ok.size else None


def paired(method: dict[int, float], baseline: dict[int, float]) -> dict:
    """The paired comparison over the seeds both have: mean, sd, n, interval, verdict,
    seeds to resolve, smallest detectable difference."""
    seeds = sorted(set(method) & set(baseline))
    d = np.array([method[s] - baseline[s] for s in seeds], dtype=np.float64)
    d = d[np.isfinite(d)]
    n = int(d.size)
    mean = float(d.mean()) if n else math.nan
    sd = float(d.std(ddof=1)) if n > 1 else math.nan
    half = t_halfwidth(sd, n)
    need = seeds_to_resolve(mean, sd)
    if n < 2:
        verdict = "unresolved (fewer than 2 paired seeds)"
    elif abs(mean) > half:
        verdict = "better" if mean < 0 else "worse"
    else:
        verdict = "unresolved"
    return {
        "mean": mean,
        "sd": sd,
        "n": n,
        "ci_low": mean - half,
        "ci_high": mean + half,
        "verdict": verdict,
        "seeds_to_resolve": need,
        "detectable": half,
    }


def power_statement(row: dict) -> str:
    """The comparison in words, including what it would take to resolve it."""
    if row["n"] < 2:
        return f"{row['n']} paired seed(s): no noise estimate; run >= 2 seeds"
    ci = f"95% CI [{row['ci_low']:+.4f}, {row['ci_high']:+.4f}]"
    if row["verdict"] in ("better", "worse"):
        return f"{row['verdict']} ({ci}, {row['n']} seeds)"
    need = row["seeds_to_resolve"]
    more = (
        f"about {need} seeds would resolve {row['mean']:+.4f} at paired sd {row['sd']:.4f}"
        if need is not None
        else f"more than {MAX_SEEDS} seeds would be needed at this noise"
    )
    return f"unresolved ({ci}); {more}; {row['n']} seeds resolve |Δ| > {row['detectable']:.4f}"


def mean_sd(values) -> tuple[float, float]:
    """Mean and sample sd of the finite values (NaN where too few)."""
    a = np.asarray([v for v in values if v is not None], dtype=np.float64)
    a = a[np.isfinite(a)]
    if a.size == 0:
        return math.nan, math.nan
    return float(a.mean()), float(a.std(ddof=1)) if a.size > 1 else math.nan
