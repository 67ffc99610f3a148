"""Gather finished probe runs into one row per recipe: final losses, paired comparisons
with the baseline, and the diagnostics with their seed spread; name the runs missing."""

import math
from collections import defaultdict

from curation.probe import stats
from curation.probe.diagnostics import REBOUND_Z_VISIBLE
from curation.probe.result import ProbeResult


class ProbeReportError(ValueError):
    """Results that cannot be gathered (none, or one (recipe, seed) twice)."""


def group(results: list[ProbeResult]) -> dict[str, dict[int, ProbeResult]]:
    """``{recipe: {seed: result}}``, refusing duplicate runs."""
    if not results:
        raise ProbeReportError("no finished probe runs to report")
    out: dict[str, dict[int, ProbeResult]] = defaultdict(dict)
    dupes = []
    for r in results:  # one entry per run, not per document
        if r.seed in out[r.recipe]:
            dupes.append((r.recipe, r.seed))
        out[r.recipe][r.seed] = r
    if dupes:
        raise ProbeReportError(f"duplicate (recipe, seed) runs: {dupes[:10]}")
    return dict(out)


def missing_runs(
    results: list[ProbeResult], expected: list[tuple[str, int]]
) -> list[tuple[str, int]]:
    have = {(r.recipe, r.seed) for r in results}
    return sorted(set(map(tuple, expected)) - have)


def eval_names(results: list[ProbeResult]) -> list[str]:
    """Evaluation sets every run has, in first-seen order."""
    return [n for n in results[0].eval_loss if all(n in r.eval_loss for r in results)]


def summarize(results: list[ProbeResult], baseline: str = "random") -> list[dict]:
    """One row per recipe (baseline first); see the module docstring."""
    groups = group(results)
    names = eval_names(results)
    base = groups.get(baseline)
    rows = []
    for recipe, runs in groups.items():
        row: dict = {"recipe": recipe, "seeds": sorted(runs)}
        for name in names:
            per_seed = {s: r.final_eval[name] for s, r in runs.items()}
            row[name] = dict(zip(("mean", "sd"), stats.mean_sd(per_seed.values()), strict=True))
            if base is not None and recipe != baseline:
                comp = stats.paired(per_seed, {s: r.final_eval[name] for s, r in base.items()})
                comp["statement"] = stats.power_statement(comp)
                row[name]["vs_baseline"] = comp
        reb = [r.diagnostics["low_rebound"] for r in runs.values()]
        mean, sd = stats.mean_sd([d["rebound"] for d in reb])
        visible = sum(
            1 for d in reb if (d["rebound"] or 0) > 0 and (d["z"] or 0) > REBOUND_Z_VISIBLE
        )
        row["low_rebound"] = {
            "mean": mean,
            "sd": sd,
            "noise": stats.mean_sd([d["noise"] for d in reb])[0],
            "visible_seeds": visible,
            "positive_seeds": sum(1 for d in reb if (d["rebound"] or 0) > 0),
        }
        kinds = sorted({k for r in runs.values() for k in r.diagnostics["boundary"]})
        row["boundary"] = {}
        for kind in kinds:
            per = [r.diagnostics["boundary"].get(kind) for r in runs.values()]
            per = [p for p in per if p and p["n"] > 0]
            if per:
                em, es = stats.mean_sd([p["excess"] for p in per])
                row["boundary"][kind] = {
                    "excess_mean": em,
                    "excess_sd": es,
                    "boundary_mean": stats.mean_sd([p["boundary"] for p in per])[0],
                    "control_mean": stats.mean_sd([p["control"] for p in per])[0],
                    "n_boundaries": per[0]["n"],
                    "seeds": len(per),
                }
        row["tokens_per_s"] = stats.mean_sd([r.tokens_per_s for r in runs.values()])[0]
        row["wall_s"] = stats.mean_sd([r.wall_s for r in runs.values()])[0]
        rows.append(row)
    rows.sort(key=lambda r: (r["recipe"] != baseline, r["recipe"]))
    return rows


def flat_rows(rows: list[dict], names: list[str]) -> list[dict]:
    """Scalar-only rows (one per recipe) for tables: means, sds, differences and verdicts."""

    def num(v) -> float:
        return float(v) if v is not None and math.isfinite(v) else math.nan

    out = []
    for r in rows:
        flat = {"recipe": r["recipe"], "seeds": len(r["seeds"])}
        for name in names:
            flat[f"{name}_bpt"] = num(r[name]["mean"])
            flat[f"{name}_sd"] = num(r[name]["sd"])
            comp = r[name].get("vs_baseline")
            flat[f"{name}_diff"] = num(comp["mean"]) if comp else math.nan
            flat[f"{name}_ci_low"] = num(comp["ci_low"]) if comp else math.nan
            flat[f"{name}_ci_high"] = num(comp["ci_high"]) if comp else math.nan
            flat[f"{name}_verdict"] = comp["verdict"] if comp else "baseline"
        flat["low_rebound"] = num(r["low_rebound"]["mean"])
        flat["low_rebound_sd"] = num(r["low_rebound"]["sd"])
        flat["rebound_seeds"] = r["low_rebound"]["visible_seeds"]
        b = r["boundary"]
        flat["boundary_excess"] = (
            "; ".join(f"{k} {v['excess_mean']:.3f}±{v['excess_sd']:.3f}" for k, v in b.items())
            or "n/a (no boundaries)"
        )
        flat["tokens_per_s"] = num(r["tokens_per_s"])
        out.append(flat)
    return out
