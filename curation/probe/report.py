"""Write a markdown report with plots comparing orderings from their probe runs.

The report leads with what can be claimed: each method's paired difference from the
baseline on every evaluation set, labelled "within noise" by the rule in
:data:`curation.probe.metrics.NOISE_RULE`, because small CPU probes make it easy to
read meaning into seed noise.
"""

import io
import math
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from curation import storage  # noqa: E402
from curation.probe import metrics  # noqa: E402
from curation.probe.train import ProbeResult  # noqa: E402

COLORS = plt.get_cmap("tab10").colors


def _smooth(y: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average that keeps the length (edges use shorter windows)."""
    if width <= 1 or y.size < 3:
        return y
    width = min(width, y.size)
    kernel = np.ones(width)
    return np.convolve(y, kernel, "same") / np.convolve(np.ones_like(y), kernel, "same")


def _seed_mean(runs: dict[int, ProbeResult], attr: str) -> np.ndarray:
    arrays = [np.asarray(getattr(r, attr), dtype=float) for r in runs.values()]
    n = min(a.size for a in arrays)
    return np.mean([a[:n] for a in arrays], axis=0)


def _grid(n: int, width: float = 4.2, height: float = 2.8):
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


def _save(fig, out_dir: storage.Location, name: str, images: list[str]) -> None:
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    loc = out_dir.join(name)
    storage.write_bytes(loc, buf.getvalue())
    images.append(loc.uri)


def plot_score_curves(groups, score_curves, out_dir, images) -> None:
    """Score against position per method: the ordering's shape, as in the paper's figure."""
    fig, axes = _grid(len(groups))
    for i, (method, runs) in enumerate(groups.items()):
        ax = axes[i]
        if score_curves and method in score_curves:
            x, y = (np.asarray(a, dtype=float) for a in score_curves[method])
            ax.plot(x, y, ",", color=COLORS[i % 10], alpha=0.6)
            ax.set_xlabel("position in ordering")
        else:
            first = runs[min(runs)]
            if first.step_scores is None:
                ax.text(0.5, 0.5, "no score column", ha="center", transform=ax.transAxes)
            else:
                ax.plot(first.step_scores, color=COLORS[i % 10], lw=1)
            ax.set_xlabel("training step (mean score per batch)")
        ax.set_title(method)
        ax.set_ylabel("score")
    fig.suptitle("Score curve of each ordering")
    _save(fig, out_dir, "score_curves.png", images)


def plot_train_loss(groups, out_dir, images) -> None:
    """Training loss (seed mean, smoothed); the y-range skips the first 10% of steps."""
    fig, ax = plt.subplots(figsize=(8, 4.5))
    lows, highs = [], []
    for i, (method, runs) in enumerate(groups.items()):
        y = _seed_mean(runs, "train_loss")
        ys = _smooth(y, max(1, y.size // 40))
        ax.plot(np.arange(y.size), ys, label=method, color=COLORS[i % 10], lw=1.3)
        tail = ys[y.size // 10 :]
        lows.append(tail.min())
        highs.append(tail.max())
    ax.set_ylim(min(lows) - 0.05, max(highs) + 0.05)
    ax.set(xlabel="training step", ylabel="bits / byte", title="Training loss (mean over seeds)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    _save(fig, out_dir, "train_loss.png", images)


def plot_grad_norms(groups, out_dir, images) -> None:
    """Gradient norm per method (raw and smoothed), boundary steps marked."""
    fig, axes = _grid(len(groups))
    for i, (method, runs) in enumerate(groups.items()):
        ax = axes[i]
        y = _seed_mean(runs, "grad_norm")
        ax.plot(y, color=COLORS[i % 10], alpha=0.3, lw=0.6)
        ax.plot(_smooth(y, max(1, y.size // 40)), color=COLORS[i % 10], lw=1.3)
        for b in runs[min(runs)].boundary_steps:
            ax.axvline(b, color="k", ls=":", lw=0.8)
        ax.set_yscale("log")  # early warmup spikes would flatten everything else
        ax.set(title=method, xlabel="step", ylabel="grad norm")
    fig.suptitle("Gradient norm before clipping (dotted: ordering boundaries)")
    _save(fig, out_dir, "grad_norms.png", images)


def plot_eval_curves(
    groups,
    names,
    out_dir,
    images,
    only: str | None = None,
    tail: float = 0.0,
    file: str = "eval_curves.png",
) -> None:
    """Each evaluation set's bits/byte over training (the initial point is left out)."""
    sets = [only] if only else names
    fig, axes = _grid(len(sets), 4.8, 3.4)
    for ax, name in zip(axes, sets, strict=True):
        for i, (method, runs) in enumerate(groups.items()):
            first = runs[min(runs)]
            steps = np.asarray(first.eval_steps)
            y = np.mean([r.eval_loss[name] for r in runs.values()], axis=0)
            keep = (steps > 0) & (steps >= tail * steps.max())
            ax.plot(steps[keep], y[keep], "o-", ms=3, label=method, color=COLORS[i % 10])
        ax.set(title=name, xlabel="training step", ylabel="bits / byte")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    title = f"{only}: loss over the last part of training" if only else "Held-out loss"
    fig.suptitle(title)
    _save(fig, out_dir, file, images)


def plot_final(rows, names, baseline, out_dir, images) -> None:
    """Final bits/byte (mean +- std) and paired difference vs baseline (+- 2 sd)."""
    fig, axes = plt.subplots(2, len(names), figsize=(4.4 * len(names), 6.4), squeeze=False)
    methods = [r["method"] for r in rows]
    x = np.arange(len(methods))
    for j, name in enumerate(names):
        top, bottom = axes[0][j], axes[1][j]
        mean = np.array([r[f"{name}.mean"] for r in rows])
        std = np.nan_to_num(np.array([r[f"{name}.std"] for r in rows]))
        top.errorbar(x, mean, yerr=std, fmt="o", capsize=4)
        top.set(title=f"{name}: final bits/byte", xticks=x)
        top.set_xticklabels(methods, rotation=30, fontsize=8)
        dm = np.array([r.get(f"{name}.diff_mean", np.nan) for r in rows])
        ds = np.nan_to_num(np.array([r.get(f"{name}.diff_sd", np.nan) for r in rows]))
        bottom.errorbar(x, dm, yerr=2 * ds, fmt="s", capsize=4, color="C3")
        bottom.axhline(0, color="k", lw=0.8)
        bottom.set(title=f"difference vs {baseline} (+-2 sd)", xticks=x)
        bottom.set_xticklabels(methods, rotation=30, fontsize=8)
        for ax in (top, bottom):
            ax.grid(alpha=0.3, axis="y")
    _save(fig, out_dir, "final_bpb.png", images)


def _fmt(v: float, digits: int = 4) -> str:
    return "n/a" if v is None or not math.isfinite(v) else f"{v:.{digits}f}"


def render_markdown(rows, names, results, title, baseline, images, low_set) -> str:
    """The report text: setup, noise rule, one table per eval set, diagnostics, plots."""
    r0 = results[0]
    c = r0.config
    lines = [
        f"# {title}",
        "",
        f"{len(results)} runs: {len(rows)} orderings x seeds {sorted({r.seed for r in results})}. "
        f"Model {r0.n_params:,} parameters ({c['n_layer']} layers, d={c['d_model']}, "
        f"context {c['context']}), batch {c['batch_size']}, {r0.steps} steps, "
        f"{r0.tokens:,} training bytes of a {r0.stream_bytes:,}-byte stream, device {r0.device}.",
        "",
        metrics.NOISE_RULE,
        "",
    ]
    for name in names:
        lines += [
            f"## Final bits/byte on `{name}`",
            "",
            f"| method | seeds | bits/byte (mean ± std) | Δ vs {baseline} (mean ± sd) | verdict |",
            "|---|---|---|---|---|",
        ]
        for r in rows:
            diff = (
                f"{r[f'{name}.diff_mean']:+.4f} ± {_fmt(r[f'{name}.diff_sd'])}"
                if f"{name}.diff_mean" in r
                else "baseline"
            )
            verdict = r.get(f"{name}.diff_verdict", "")
            lines.append(
                f"| {r['method']} | {len(r['seeds'])} | {_fmt(r[f'{name}.mean'])} ± "
                f"{_fmt(r[f'{name}.std'])} | {diff} | {verdict} |"
            )
        lines.append("")
    lines += ["## In plain words", ""]
    for r in rows:
        for name in names:
            v = r.get(f"{name}.diff_verdict")
            if v is None:
                continue
            lines.append(
                f"- `{r['method']}` vs `{baseline}` on `{name}`: **{v}** "
                f"(Δ = {r[f'{name}.diff_mean']:+.4f} bits/byte, paired sd "
                f"{_fmt(r[f'{name}.diff_sd'])}, {r[f'{name}.diff_n']} seeds)."
            )
    lines += [
        "",
        "## Stability diagnostics",
        "",
        f"Low-score rebound = final minus minimum of the `{low_set}` loss curve "
        "(the paper's forgetting signal). Boundary ratio = peak gradient norm just after "
        "each given boundary step over the median of the steps before it (~1 = no "
        "shock). Spike counts are noisy; prefer the ratio.",
        "",
        "| method | low-score rebound | boundary ratio | spikes | tokens/s | wall s |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['method']} | {_fmt(r.get('low_rebound.mean', float('nan')))} ± "
            f"{_fmt(r.get('low_rebound.std', float('nan')))} | "
            f"{_fmt(r['boundary_ratio.mean'], 3)} | {_fmt(r['spikes.mean'], 1)} | "
            f"{_fmt(r['tokens_per_s.mean'], 0)} | {_fmt(r['wall_s.mean'], 1)} |"
        )
    lines += ["", "## Plots", ""]
    lines += [f"![{os.path.basename(p)}]({os.path.basename(p)})" for p in images]
    return "\n".join(lines) + "\n"


def write_report(
    results: list[ProbeResult],
    out_dir: str,
    score_curves: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
    title: str = "Ordering probe report",
    baseline: str = "random",
    low_set: str = "heldout_low",
) -> dict:
    """Write ``report.md`` and PNGs under ``out_dir`` (local or s3://); return
    ``{"markdown", "report_path", "images", "table"}``."""
    rows = metrics.summarize(results, baseline=baseline, low_set=low_set)
    groups = metrics.group_by_method(results)
    names = metrics.eval_names(results)
    out = storage.resolve(out_dir)
    images: list[str] = []
    plot_score_curves(groups, score_curves, out, images)
    plot_train_loss(groups, out, images)
    plot_grad_norms(groups, out, images)
    if names:
        plot_eval_curves(groups, names, out, images)
        if low_set in names:
            plot_eval_curves(
                groups, names, out, images, only=low_set, tail=0.4, file="low_score_loss.png"
            )
        plot_final(rows, names, baseline, out, images)
    markdown = render_markdown(rows, names, results, title, baseline, images, low_set)
    report = out.join("report.md")
    storage.write_bytes(report, markdown.encode())
    return {"markdown": markdown, "report_path": report.uri, "images": images, "table": rows}
