"""probe_runs and probe_report: small GPTs trained on each probed recipe, one step per
(recipe, seed), compared paired by seed.

``probe_runs`` is a graph asset over the recipe partitions: a plan op fixes the held-out
split, writes the evaluation sets and yields one dynamic output per (recipe, seed) that has
no result yet; each train op is its own step (its own process, container or GPU pod),
retried alone, logging progress while it trains; a collect op gathers what finished.
``probe_report`` compares the finished runs and names the missing ones.
"""

import base64
import hashlib
import json
import math
import os
import tempfile

import numpy as np
import pyarrow as pa
from dagster import (
    AssetExecutionContext,
    AssetIn,
    DynamicOut,
    DynamicOutput,
    MetadataValue,
    OpExecutionContext,
    Out,
    Output,
    RetryPolicy,
    asset,
    graph_asset,
    op,
)

from assets.metadata import CODE_VERSION, OWNERS, add_partition_metadata, png_markdown, table_value
from assets.partitions import SINGLE_RUN, mapping_key, recipe_partitions
from assets.resources import ProjectResource
from curation.corpus.read import iter_batches
from curation.probe.config import ProbeConfig, preset
from curation.probe.data import collect_eval_tokens
from curation.probe.heldout import HeldOut
from curation.probe.result import ProbeResult
from curation.probe.tokens import load as load_tokenizer
from curation.refs import CorpusRef, ScoresRef
from curation.scores.aligned import aligned_scores
from curation.storage import exists, read_bytes, resolve, write_bytes

RETRIES = 2


def local_dir(base, key: str) -> str:
    """Local disk for token streams and checkpoints (memory-mapped, so never S3): beside the
    work files when they are local, else ``$CURATION_PROBE_LOCAL_DIR`` or the temp dir."""
    if not base.is_s3:
        return os.path.join(base.path, "local")
    root = os.environ.get("CURATION_PROBE_LOCAL_DIR") or tempfile.gettempdir()
    return os.path.join(root, "curation-probes", key)


def probe_config(spec) -> ProbeConfig:
    """The recipe file's probe section: a preset, its seed count and overrides."""
    overrides = dict(spec.overrides)
    if spec.seeds is not None:
        overrides["seeds"] = spec.seeds
    return preset(spec.preset, **overrides)


def gpu_tags(cfg: ProbeConfig) -> dict:
    """Kubernetes executor config for train steps of presets meant for a GPU."""
    if cfg.precision != "bf16" and not cfg.compile:
        return {}
    resources = {"limits": {"nvidia.com/gpu": "1"}, "requests": {"nvidia.com/gpu": "1"}}
    return {"dagster-k8s/config": {"container_config": {"resources": resources}}}


def _eval_sets(raw_corpus: CorpusRef, scores: np.ndarray, held: HeldOut, cfg, base) -> dict:
    """Write (once) the evaluation sets: held-out documents in corpus order."""
    names = ("heldout_random", "heldout_low", "heldout_high")
    uris = {n: base.join("eval", f"{n}.npy").uri for n in names}
    if all(exists(resolve(u)) for u in uris.values()):
        return uris

    def batches():
        offset = 0
        cols = [raw_corpus.id_column, raw_corpus.text_column]
        for batch in iter_batches(raw_corpus.uri, columns=cols):
            n = batch.num_rows
            yield pa.RecordBatch.from_arrays(
                [batch.column(0), batch.column(1), pa.array(scores[offset : offset + n])],
                names=["id", "text", "score"],
            )
            offset += n

    tokens = collect_eval_tokens(
        batches(), held, load_tokenizer(cfg.tokenizer), cfg.eval_max_tokens
    )
    from curation.probe.experiment import save_eval_sets

    return save_eval_sets(tokens, base.join("eval").uri)


def build_probe_ops(tags: dict):
    @op(out={"plan": Out(), "runs": DynamicOut()})
    def probe_plan(
        context: OpExecutionContext,
        project: ProjectResource,
        raw_corpus: CorpusRef,
        sample_scores: ScoresRef,
        shards: dict,
    ):
        proj = project.project
        cfg = probe_config(proj.probe)
        probed = [name for name in shards if proj.recipe(name).probe]
        key = hashlib.sha256(
            json.dumps(
                [
                    sample_scores.version,
                    raw_corpus.version,
                    cfg.to_dict(),
                    {name: shards[name].ordering.key for name in probed},
                ],
                sort_keys=True,
            ).encode()
        ).hexdigest()[:16]
        base = resolve(proj.path("work", "probes", key))
        plan = {"key": key, "base": base.uri, "config": cfg.to_dict(), "recipes": {}}
        plan["not_probed"] = [name for name in shards if name not in probed]
        if probed:
            ids, scores = aligned_scores(raw_corpus, sample_scores)
            held = HeldOut.from_corpus(ids, scores, cfg.heldout_fraction, cfg.extreme_fraction)
            plan["heldout"] = held.to_dict()
            plan["eval_sets"] = _eval_sets(raw_corpus, scores, held, cfg, base)
        for name in probed:
            ref = shards[name]
            plan["recipes"][name] = {
                "shards": [s.path for s in ref.shards],
                "ordering": {
                    "method": ref.ordering.method,
                    "params": ref.ordering.params,
                    "n": ref.ordering.rows,
                    "selection": ref.ordering.selection,
                },
                "curve": ref.ordering.curve,
            }
        yield Output(plan, "plan")
        for name in probed:
            for seed in range(cfg.seeds):
                if exists(base.join("runs", f"{mapping_key(name, seed)}.json")):
                    context.log.info(f"{name}/seed {seed}: reusing the finished run")
                    continue
                yield DynamicOutput([name, seed], mapping_key(name, seed), output_name="runs")

    @op(retry_policy=RetryPolicy(max_retries=RETRIES), tags=tags)
    def probe_train(context: OpExecutionContext, plan: dict, run: list) -> list:
        """One (recipe, seed) probe; after the last retry a failure is recorded, not raised,
        so the report still gathers the runs that finished."""
        from curation.probe import train  # torch: imported by train steps only

        name, seed = run
        recipe = plan["recipes"][name]
        job = train.ProbeJob(
            recipe=name,
            seed=int(seed),
            shards=tuple(recipe["shards"]),
            eval_sets=plan["eval_sets"],
            config=ProbeConfig.from_dict(plan["config"]),
            work_dir=local_dir(resolve(plan["base"]), plan["key"]),
            heldout=HeldOut(**plan["heldout"]),
            ordering=recipe["ordering"],
        )

        logged = [0]  # quarters of the steps already reported

        def progress(p) -> None:
            quarter = 4 * p.step // max(1, p.steps)
            if quarter <= logged[0] and p.step < p.steps:
                return  # one line per ~25 % of training, not one per log interval
            logged[0] = quarter
            context.log.info(
                f"{name}/seed {seed}: {100 * p.step // max(1, p.steps)}% "
                f"(step {p.step}/{p.steps}), loss {p.loss_bits:.4f}, "
                f"{p.tokens_per_s:,.0f} tokens/s"
            )

        try:
            result = train.run_probe(job, progress)
        except Exception as exc:
            if context.retry_number < RETRIES:
                raise
            context.log.error(f"{name}/seed {seed} failed after {RETRIES + 1} attempts: {exc!r}")
            return [name, seed, False]
        loc = resolve(plan["base"]).join("runs", f"{mapping_key(name, seed)}.json")
        write_bytes(loc, json.dumps(result.to_dict()).encode())
        return [name, seed, True]

    @op
    def probe_collect(context: AssetExecutionContext, plan: dict, done: list) -> dict:
        base = resolve(plan["base"])
        cfg_seeds = ProbeConfig.from_dict(plan["config"]).seeds
        out = {n: {"recipe": n, "probed": False, "results": []} for n in plan["not_probed"]}
        for name, recipe in plan["recipes"].items():
            results = []
            for seed in range(cfg_seeds):
                loc = base.join("runs", f"{mapping_key(name, seed)}.json")
                if exists(loc):
                    results.append(json.loads(read_bytes(loc)))
            out[name] = {
                "recipe": name,
                "probed": True,
                "key": plan["key"],
                "seeds": cfg_seeds,
                "results": results,
                "curve": recipe["curve"],
            }
            speeds = [r["tokens_per_s"] for r in results]
            add_partition_metadata(
                context,
                {
                    "recipe": name,
                    "finished_seeds": len(results),
                    "expected_seeds": cfg_seeds,
                    "tokens_per_s": round(float(np.mean(speeds)), 1) if speeds else 0.0,
                    "probe_key": plan["key"],
                },
                name,
            )
        for name in plan["not_probed"]:
            add_partition_metadata(
                context,
                {
                    "recipe": name,
                    "probed": False,
                    "status": "skipped: not probed (probe: false in curation.yaml)",
                    "finished_seeds": 0,
                },
                name,
            )
        if plan["not_probed"]:
            context.log.info(f"not probed (probe: false): {', '.join(plan['not_probed'])}")
        return out

    return probe_plan, probe_train, probe_collect


def _signed(value: float, digits: int = 3) -> str:
    return f"{value:+.{digits}f}" if math.isfinite(value) else "n/a"


def summary_table(rows: list[dict], baseline: str = "random") -> MetadataValue:
    """One narrow row per recipe: held-out loss and its difference from the baseline with
    the 95% interval; the baseline says so instead of ``nan``. The other evaluation sets
    are in the report and in the ``<recipe>/..._vs_random`` numbers."""
    out = []
    for row in rows:
        is_base = row.get("heldout_random_verdict") == "baseline"
        low, high = row.get("heldout_random_ci_low"), row.get("heldout_random_ci_high")
        diff = (
            "baseline"
            if is_base
            else f"{_signed(row['heldout_random_diff'])} [{_signed(low, 2)}, {_signed(high, 2)}]"
        )
        out.append(
            {
                "recipe": row["recipe"],
                "bits/token": f"{row.get('heldout_random_bpt', math.nan):.3f}",
                f"vs {baseline} (95% CI)": diff,
                "verdict": "" if is_base else str(row.get("heldout_random_verdict", "")),
            }
        )
    return table_value(out)


def delta_metadata(rows: list[dict]) -> dict[str, float]:
    """Each recipe's final held-out loss minus the baseline's, with its interval, as plain
    numbers the UI's Plots tab charts run over run (baseline and non-finite left out)."""
    out = {}
    for row in rows:
        for name, key in (
            ("loss_vs_random", "heldout_random_diff"),
            ("loss_vs_random_ci_low", "heldout_random_ci_low"),
            ("loss_vs_random_ci_high", "heldout_random_ci_high"),
            ("low_set_vs_random", "heldout_low_diff"),
            ("high_set_vs_random", "heldout_high_diff"),
        ):
            value = row.get(key)
            if isinstance(value, float) and math.isfinite(value):
                out[f"{row['recipe']}/{name}"] = round(value, 5)
    return out


def build_probe_assets(project):
    partitions = recipe_partitions(project)
    plan_op, train_op, collect_op = build_probe_ops(gpu_tags(probe_config(project.probe)))

    @graph_asset(
        partitions_def=partitions,
        backfill_policy=SINGLE_RUN,
        group_name="probes",
        description="Short training runs of a small GPT on each probed recipe, one step per "
        "(recipe, seed).",
        kinds={"pytorch"},
        owners=OWNERS,
        code_version=CODE_VERSION,
        ins={
            "raw_corpus": AssetIn("raw_corpus"),
            "sample_scores": AssetIn("sample_scores"),
            "shards": AssetIn("shards"),
        },
    )
    def probe_runs(raw_corpus, sample_scores, shards):
        plan, runs = plan_op(raw_corpus, sample_scores, shards)
        done = runs.map(lambda r: train_op(plan, r)).collect()
        return collect_op(plan, done)

    @asset(
        backfill_policy=SINGLE_RUN,
        group_name="probes",
        description="Which recipe's order trains best: paired differences with intervals, "
        "diagnostics, plots.",
        kinds={"pytorch"},
        owners=OWNERS,
        code_version=CODE_VERSION,
        ins={"probe_runs": AssetIn("probe_runs", metadata={"allow_missing_partitions": True})},
    )
    def probe_report(
        context: AssetExecutionContext, project: ProjectResource, probe_runs: dict
    ) -> dict:
        proj = project.project
        cfg = probe_config(proj.probe)
        runs = [v for v in probe_runs.values() if v.get("probed")]
        results = [ProbeResult.from_dict(r) for run in runs for r in run["results"]]
        expected = [(r.name, s) for r in proj.recipes if r.probe for s in range(cfg.seeds)]
        curves = {
            run["recipe"]: (np.asarray(run["curve"]["position"]), np.asarray(run["curve"]["score"]))
            for run in runs
            if run.get("curve")
        }
        key = hashlib.sha256(json.dumps(sorted({run["key"] for run in runs})).encode()).hexdigest()[
            :16
        ]
        out = proj.path("work", "reports", key)
        if not results:
            missing = [f"{r}/seed {s}" for r, s in expected]
            context.log.warning("no probe run has finished")
            context.add_output_metadata({"missing_runs": missing})
            return {"dir": out, "missing": missing, "recipes": []}
        from curation.probe.report import write_report

        report = write_report(
            results, out, expected=expected, score_curves=curves, title="Ordering probe report"
        )
        images, inline = {}, []
        for path in report["images"]:
            name = path.rsplit("/", 1)[-1].removesuffix(".png")
            png = read_bytes(resolve(path))
            images[f"plot_{name}"] = png_markdown(png, name)
            inline.append(f"![{name}](data:image/png;base64,{base64.b64encode(png).decode()})")
        missing = [f"{r}/seed {s}" for r, s in report["missing"]]
        context.add_output_metadata(
            {
                "report": MetadataValue.md(report["markdown"] + "\n\n" + "\n\n".join(inline)),
                "summary": summary_table(report["table"]),
                **delta_metadata(report["table"]),
                "report_path": MetadataValue.path(report["report_path"]),
                "finished_runs": len(results),
                "missing_runs": missing,
                **images,
            }
        )
        return {
            "dir": out,
            "report_path": report["report_path"],
            "missing": missing,
            "recipes": sorted({r.recipe for r in results}),
        }

    return probe_runs, probe_report
