"""The probe report: markdown with the paired comparisons, the diagnostics and plots.

It leads with what can be claimed (a confidence interval and what it would take to
resolve each comparison), names the runs that did not finish, and keeps every plot
down-sampled to a few hundred points, whatever the number of documents or steps.
"""

import io
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from curation import storage  # noqa: E402
from curation.probe import stats, summary  # noqa: E402
from curation.probe.result import ProbeResult  # noqa: E402

COLORS = plt.get_cmap("tab10").colors
MAX_POINTS = 400
MAX_MARKS = 60


def downsample(x: np.ndarray, y: np.ndarray, points: int = MAX_POINTS):
    """At most ``points`` evenly spaced samples of a curve (bin means for y)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if y.size <= points:
        return x, y
    edges = np.linspace(0, y.size, points + 1).astype(np.int64)
    counts = np.diff(edges)
    ys = np.add.reduceat(y, edges[:-1]) / counts
    xs = np.add.reduceat(x, edges[:-1]) / counts
    return xs, ys


def _seed_mean(runs: dict[int, ProbeResult], attr: str) -> np.ndarray:
    arrays = [np.asarray(getattr(r, attr), dtype=float) for r in runs.values()]
    n = min(a.size for a in arrays)
    return np.mean([a[:n] for a in arrays], axis=0)


def _grid(n: int, width: float = 4.2, height: float = 2.8):
    cols = min(n, 2)  # two across: the UI's metadata dialog shows ~900 px
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


def _save(fig, out: storage.Location, name: str, images: list[str]) -> None:
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    loc = out.join(name)
    storage.write_bytes(loc, buf.getvalue())
    images.append(loc.uri)


def plot_scores(groups, score_curves, out, images) -> None:
    """Score along each order (the ordering's shape), from its curve or the steps."""
    fig, axes = _grid(len(groups))
    for i, (recipe, runs) in enumerate(groups.items()):
        ax = axes[i]
        if score_curves and recipe in score_curves:
            x, y = downsample(*score_curves[recipe])
            ax.set_xlabel("position in ordering")
        else:
            first = runs[min(runs)].step_scores or []
            x, y = downsample(np.arange(len(first)), first)
            ax.set_xlabel("training step (mean score)")
        ax.plot(x, y, color=COLORS[i % 10], lw=1)
        ax.set(title=recipe, ylabel="score")
    fig.suptitle("Score along each order")
    _save(fig, out, "score_curves.png", images)


def plot_train_and_norms(groups, out, images) -> None:
    """Training loss and gradient norm per recipe (seed mean), boundaries marked."""
    fig, axes = _grid(len(groups), 4.2, 3.2)
    for i, (recipe, runs) in enumerate(groups.items()):
        ax = axes[i]
        g = _seed_mean(runs, "grad_norm")
        x, y = downsample(np.arange(g.size), g)
        ax.plot(x, y, color=COLORS[i % 10], lw=1)
        ax.set_yscale("log")
        marks = sorted({b for v in runs[min(runs)].boundary_steps.values() for b in v})
        for b in (
            np.asarray(marks)[
                np.linspace(0, len(marks) - 1, min(len(marks), MAX_MARKS)).astype(int)
            ]
            if marks
            else []
        ):
            ax.axvline(b, color="k", ls=":", lw=0.7)
        ax2 = ax.twinx()
        loss = _seed_mean(runs, "train_loss")
        ax2.plot(*downsample(np.arange(loss.size), loss), color="0.5", lw=0.8)
        ax.set(title=recipe, xlabel="step", ylabel="grad norm (log)")
        ax2.set_ylabel("train loss", color="0.5")
    fig.suptitle("Gradient norm (colour) and training loss (grey); dotted: ordering boundaries")
    _save(fig, out, "train_grad_norm.png", images)


def plot_eval(groups, names, out, images) -> None:
    """Each evaluation set's loss over training, seed mean (initial point left out)."""
    fig, axes = _grid(len(names), 4.6, 3.3)
    for ax, name in zip(axes, names, strict=True):
        for i, (recipe, runs) in enumerate(groups.items()):
            steps = np.asarray(runs[min(runs)].eval_steps)
            y = np.mean([r.eval_loss[name] for r in runs.values()], axis=0)
            keep = steps >= 0.15 * steps.max()
            ax.plot(
                *downsample(steps[keep], y[keep]), "o-", ms=2, label=recipe, color=COLORS[i % 10]
            )
        ax.set(title=name, xlabel="step", ylabel="bits / token")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle("Held-out loss over training (after the first 15%)")
    _save(fig, out, "eval_curves.png", images)


def plot_differences(rows, names, baseline, out, images) -> None:
    """Paired difference vs the baseline with its 95% interval, per evaluation set."""
    fig, axes = _grid(len(names), 4.6, 3.3)
    others = [r for r in rows if r["recipe"] != baseline]
    x = np.arange(len(others))
    for ax, name in zip(axes, names, strict=True):
        comps = [r[name].get("vs_baseline") or {} for r in others]
        mean = np.array([c.get("mean", np.nan) for c in comps])
        low = np.nan_to_num(mean - np.array([c.get("ci_low", np.nan) for c in comps]))
        ax.errorbar(x, mean, yerr=low, fmt="s", capsize=4, color="C3")
        ax.axhline(0, color="k", lw=0.8)
        ax.set(title=f"{name}: minus {baseline} (95% CI)", xticks=x)
        ax.set_xticklabels([r["recipe"] for r in others], rotation=30, fontsize=8)
        ax.grid(alpha=0.3, axis="y")
    _save(fig, out, "final_bpb.png", images)


def _f(v, digits: int = 4) -> str:
    return "n/a" if v is None or not math.isfinite(v) else f"{v:.{digits}f}"


def score_name(selection: dict) -> str:
    """The score a selection read: a named raw column, or the driving score (of which)."""
    if selection.get("score"):
        return f"`{selection['score']}`"
    columns = ", ".join(selection.get("driving_columns") or [])
    return f"the driving score ({columns})" if columns else "the driving score"


def data_section(results: list[ProbeResult]) -> list[str]:
    """What each recipe trained on: how much its selection kept, its one pass over it."""
    first: dict[str, ProbeResult] = {}
    for r in results:
        first.setdefault(r.recipe, r)
    if not any(r.extra.get("selection") or r.extra.get("budget_capped") for r in first.values()):
        return []
    lines = [
        "## Training data per recipe",
        "",
        "Each recipe trains one pass over what it kept, never repeating data; a recipe "
        "with a selection keeps fewer documents, so it trains on fewer tokens when the "
        "budget is larger than what it kept. Held-out sets come from the whole corpus.",
        "",
        "| recipe | kept documents | selection | steps | tokens trained | stream tokens | budget |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in sorted(first):
        r = first[name]
        sel = r.extra.get("selection") or {}
        kept = (
            f"{sel['kept']:,} of {sel['total']:,} ({sel['kept'] / max(sel['total'], 1):.0%})"
            if sel
            else "all"
        )
        rule = "none"
        if sel:
            cut = f"{sel['applied_threshold']:.4g}"
            rule = f"{sel['rule']} {sel['value']} on {score_name(sel)} (cut {cut})"
        budget = r.config.get("token_budget")
        note = (
            f"capped by kept tokens ({budget:,} asked)"
            if r.extra.get("budget_capped")
            else ("one pass" if budget is None else f"{budget:,}")
        )
        lines.append(
            f"| {name} | {kept} | {rule} | {r.steps} | {r.tokens:,} | {r.stream_tokens:,} "
            f"| {note} |"
        )
    return [*lines, ""]


def render(rows, names, results, missing, title, baseline) -> str:
    """The report text: setup, missing runs, comparisons, diagnostics."""
    r0, c = results[0], results[0].config
    unit = "bits/byte" if c.get("tokenizer") == "bytes" else "bits/token"
    lines = [
        f"# {title}",
        "",
        f"{len(results)} finished runs over {len(rows)} recipes; model {r0.n_params:,} "
        f"parameters ({c['n_layer']} layers, d={c['d_model']}, context {c['context']}), "
        + (
            f"{r0.steps} steps of {c['batch_size'] * c['grad_accum'] * c['context']:,} tokens "
            f"({r0.tokens:,} of a {r0.stream_tokens:,}-token stream)"
            if len({(r.steps, r.stream_tokens) for r in results}) == 1
            else f"steps of {c['batch_size'] * c['grad_accum'] * c['context']:,} tokens "
            "(how many per recipe: below)"
        )
        + f", device {r0.device}. Losses in {unit}; lower is better.",
        "",
        *data_section(results),
    ]
    if missing:
        shown = ", ".join(f"{r}/seed {s}" for r, s in missing[:20])
        lines += [f"**Missing runs ({len(missing)})**: {shown}. Comparisons use the rest.", ""]
    lines += [stats.RULE, ""]
    for name in names:
        lines += [
            f"## `{name}`",
            "",
            f"| recipe | seeds | final (mean ± sd) | Δ vs {baseline} [95% CI] | verdict "
            "| to resolve |",
            "|---|---|---|---|---|---|",
        ]
        for r in rows:
            comp = r[name].get("vs_baseline")
            diff = (
                f"{comp['mean']:+.4f} [{comp['ci_low']:+.4f}, {comp['ci_high']:+.4f}]"
                if comp and comp["n"] > 1
                else ("baseline" if r["recipe"] == baseline else "n/a")
            )
            need = (
                ""
                if not comp
                else (
                    "resolved"
                    if comp["verdict"] in ("better", "worse")
                    else f"~{comp['seeds_to_resolve'] or '>1000'} seeds"
                )
            )
            lines.append(
                f"| {r['recipe']} | {len(r['seeds'])} | {_f(r[name]['mean'])} ± "
                f"{_f(r[name]['sd'])} | {diff} | {comp['verdict'] if comp else ''} | {need} |"
            )
        lines.append("")
        for r in rows:
            comp = r[name].get("vs_baseline")
            if comp:
                lines.append(f"- `{r['recipe']}` vs `{baseline}`: {comp['statement']}.")
        lines.append("")
    lines += [
        "## Stability diagnostics",
        "",
        "Low-score rebound: on the `heldout_low` curve (after the first 20% of training), "
        "smoothed over 5 evaluations, final minus minimum; *visible* when above 3x its own "
        "noise (point-to-point sd from second differences, propagated to the two "
        "averages). Boundary excess: peak gradient norm "
        "just after each of the ordering's real boundaries (from its metadata) over the "
        "median of the steps before it, divided by the same statistic's median at "
        "non-boundary steps (1 = no shock); random and sorted orders have no boundaries.",
        "",
        "| recipe | rebound (mean ± sd) | noise | seeds visible / positive "
        "| boundary excess by kind |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lr, b = r["low_rebound"], r["boundary"]
        kinds = (
            "; ".join(
                f"{k}: {_f(v['excess_mean'], 3)} ± {_f(v['excess_sd'], 3)} "
                f"({v['n_boundaries']} steps, at {_f(v['boundary_mean'], 2)} "
                f"vs {_f(v['control_mean'], 2)})"
                for k, v in b.items()
            )
            or "n/a (no boundaries)"
        )
        lines.append(
            f"| {r['recipe']} | {_f(lr['mean'])} ± {_f(lr['sd'])} | {_f(lr['noise'])} | "
            f"{lr['visible_seeds']} / {lr['positive_seeds']} of {len(r['seeds'])} | {kinds} |"
        )
    lines += ["", "| recipe | tokens/s | wall s |", "|---|---|---|"]
    lines += [
        f"| {r['recipe']} | {_f(r['tokens_per_s'], 0)} | {_f(r['wall_s'], 1)} |" for r in rows
    ]
    return "\n".join(lines) + "\n"


def write_report(
    results: list[ProbeResult],
    out_dir: str,
    expected: list[tuple[str, int]] | None = None,
    score_curves: dict | None = None,
    title: str = "Ordering probe report",
    baseline: str = "random",
) -> dict:
    """Write ``report.md`` and PNGs under ``out_dir`` (local or s3://); return the
    markdown, its path, the image paths, nested rows, flat table rows and missing runs."""
    rows = summary.summarize(results, baseline)
    groups = summary.group(results)
    names = summary.eval_names(results)
    missing = summary.missing_runs(results, expected or [])
    out = storage.resolve(out_dir)
    images: list[str] = []
    plot_scores(groups, score_curves, out, images)
    plot_train_and_norms(groups, out, images)
    if names:
        plot_eval(groups, names, out, images)
        if baseline in groups and len(groups) > 1:
            plot_differences(rows, names, baseline, out, images)
    markdown = render(rows, names, results, missing, title, baseline)
    report = out.join("report.md")
    storage.write_bytes(report, markdown.encode())
    return {
        "markdown": markdown,
        "report_path": report.uri,
        "images": images,
        "rows": rows,
        "table": summary.flat_rows(rows, names),
        "missing": missing,
    }
