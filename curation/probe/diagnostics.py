"""The paper's two stability signals, measured so that they can fail.

* Low-score rebound: does the loss on the lowest-score held-out documents rise again late
  in training (forgetting what came first)? Measured on a smoothed evaluation curve and
  set against that curve's own point-to-point noise.
* Boundary ratio: does the gradient norm jump where the ordering's score shape breaks?
  The same statistic (peak norm just after a step over the median of the steps before
  it) is computed at the ordering's real boundaries and at every non-boundary step away
  from them, and the two are compared; orders without boundaries get none.
"""

import math

import numpy as np

#: evaluation points averaged by the centred moving average of the rebound.
SMOOTH_POINTS = 5
#: z above which a rebound counts as visible: on synthetic curves (tests) the minimum's
#: selection bias puts a no-rebound curve above z = 2 in ~7% of cases, above 3 in < 2%.
REBOUND_Z_VISIBLE = 3.0
#: leading fraction of the curve ignored by the rebound (the fast initial fall).
REBOUND_SKIP = 0.2


def _finite(d: dict) -> dict:
    """NaN and infinity become None, so results stay valid JSON and compare equal."""
    return {k: (v if not isinstance(v, float) or math.isfinite(v) else None) for k, v in d.items()}


def smooth(y: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Centred moving average keeping the length (shorter windows at the ends), and the
    number of points behind each value."""
    y = np.asarray(y, dtype=np.float64)
    width = max(1, min(width, y.size))
    kernel = np.ones(width)
    counts = np.convolve(np.ones_like(y), kernel, "same")
    return np.convolve(y, kernel, "same") / counts, counts


def rebound(eval_steps: list[int], curve: list[float]) -> dict:
    """Final smoothed value minus the smoothed minimum after the first ``REBOUND_SKIP``,
    with its noise: the curve's point-to-point sd (from second differences, so a smooth
    trend does not count as noise) propagated to the difference of the two averages;
    ``z`` = rebound / noise. None without enough curve."""
    y = np.asarray(curve, dtype=np.float64)
    steps = np.asarray(eval_steps, dtype=np.float64)
    if y.size != steps.size:
        raise ValueError(f"{y.size} curve points for {steps.size} evaluation steps")
    y = y[steps >= REBOUND_SKIP * steps.max()] if steps.size else y
    if y.size < 4:
        return {"rebound": None, "noise": None, "z": None}
    sm, counts = smooth(y, SMOOTH_POINTS)
    low = int(np.argmin(sm))
    resid = np.std(np.diff(y, 2), ddof=1) / math.sqrt(6)  # white-noise sd, blind to trends
    noise = float(resid * math.sqrt(1 / counts[-1] + 1 / counts[low]))
    value = float(sm[-1] - sm[low])
    z = value / noise if noise > 0 else (0.0 if value == 0 else math.inf)
    return _finite({"rebound": value, "noise": noise, "z": float(z)})


def step_statistic(grad_norm: np.ndarray, window: int, horizon: int) -> np.ndarray:
    """Per step s: max norm over ``[s, s+horizon)`` / median norm over ``[s-window, s)``
    (NaN where either window does not fit)."""
    g = np.asarray(grad_norm, dtype=np.float64)
    out = np.full(g.size, np.nan)
    if g.size < window + horizon:
        return out
    before = np.median(np.lib.stride_tricks.sliding_window_view(g, window), axis=1)
    after = np.lib.stride_tricks.sliding_window_view(g, horizon).max(axis=1)
    s = np.arange(window, g.size - horizon + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out[s] = after[s] / before[s - window]
    return out


def boundary_ratio(
    grad_norm: np.ndarray, steps: list[int], window: int, horizon: int, skip: int
) -> dict:
    """The statistic at boundary steps (after ``skip`` warmup steps) against its median
    over matched control steps: every step at least ``window + horizon`` from any
    boundary, in the same part of training. ``excess`` = boundary mean / control median."""
    stat = step_statistic(grad_norm, window, horizon)
    b = np.asarray(steps, dtype=np.int64)
    b = b[(b >= skip) & np.isfinite(stat[b] if b.size else b)] if b.size else b
    if b.size == 0:
        return {"boundary": None, "control": None, "excess": None, "n": 0}
    idx = np.arange(stat.size)
    reach = window + horizon
    lo, hi = np.maximum(b - reach, 0), np.minimum(b + reach + 1, stat.size)
    cover = np.zeros(stat.size + 1, np.int64)
    np.add.at(cover, lo, 1)
    np.add.at(cover, hi, -1)
    near = np.cumsum(cover[:-1]) > 0
    control = stat[(idx >= max(skip, b.min() - reach)) & ~near & np.isfinite(stat)]
    if control.size == 0:
        control = stat[(idx >= skip) & ~near & np.isfinite(stat)]
    at = float(np.mean(stat[b]))
    ctl = float(np.median(control)) if control.size else math.nan
    excess = at / ctl if ctl else math.nan
    return _finite({"boundary": at, "control": ctl, "excess": excess, "n": int(b.size)})
