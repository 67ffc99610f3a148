"""probe_runs and probe_report: tiny byte-level GPTs trained on each probed recipe.

Every recipe with ``probe: true`` trains on the same documents (its own order), minus a
held-out split that no ordering trains on; the same seeds give every recipe the same
initial weights. Recipes with ``probe: false`` record that they were not probed.
Evaluation targets are chosen by score (random, lowest, highest held-out documents).
"""

import hashlib
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from dagster import AssetExecutionContext, AssetIn, MetadataValue, asset

from assets.metadata import CODE_VERSION, OWNERS, add_partition_metadata, png_markdown, table_value
from assets.partitions import SINGLE_RUN, recipe_partitions
from assets.resources import ProjectResource
from curation.probe.report import write_report
from curation.probe.train import ProbeConfig, ProbeJob, ProbeResult, run_probes, steps_at_documents
from curation.refs import CorpusRef, ScoresRef, ShardSetRef
from curation.scores.aligned import aligned_scores
from curation.storage import exists, read_bytes, resolve, write_bytes, write_parquet_atomic

#: probe budgets by preset (the recipe file's ``probe.preset``); overrides apply on top
PRESETS = {
    "demo": {
        "token_budget": 300_000,
        "n_layer": 2,
        "d_model": 64,
        "context": 128,
        "batch_size": 16,
        "lr": 3e-3,
        "eval_points": 10,
    },
}
SPLIT = {"heldout_fraction": 0.04, "extreme_fraction": 0.02, "workers": 2}


def heldout_split(
    ids: pa.Array, scores: np.ndarray, fraction: float, extreme: float, min_docs: int = 2
) -> dict:
    """Deterministic held-out sets: random docs, lowest-10%-score docs, top-10%-score docs.

    Documents are picked by a hash of their id (not their position), so the split is the
    same for every ordering and every rerun; each set gets at least ``min_docs`` documents.
    """
    n = len(ids)
    u = pd.util.hash_array(ids.to_numpy(zero_copy_only=False).astype(str).astype(object))
    by_hash = np.argsort(u, kind="stable")
    taken = np.zeros(n, dtype=bool)
    lo, hi = np.quantile(scores, [0.1, 0.9]) if n else (0.0, 0.0)
    sets = {}
    for name, mask, size in (
        ("heldout_low", scores <= lo, max(min_docs, round(extreme * n))),
        ("heldout_high", scores >= hi, max(min_docs, round(extreme * n))),
        ("heldout_random", np.ones(n, dtype=bool), max(min_docs, round(fraction * n))),
    ):
        candidates = by_hash[mask[by_hash] & ~taken[by_hash]][:size]
        taken[candidates] = True
        sets[name] = np.sort(candidates)
    return sets


def write_rows(corpus_uri: str, rows: np.ndarray, text_column: str, loc) -> str:
    """Write the given corpus rows' text to a parquet eval set (small by construction)."""
    from curation.corpus import iter_batches

    parts, offset = [], 0
    for batch in iter_batches(corpus_uri, columns=[text_column]):
        idx = rows[(rows >= offset) & (rows < offset + batch.num_rows)] - offset
        if idx.size:
            parts.append(batch.column(0).take(pa.array(idx)))
        offset += batch.num_rows
    text = pa.concat_arrays(parts) if parts else pa.array([], pa.string())
    write_parquet_atomic(pa.table({"text": text}), loc)
    return loc.uri


def training_stream(shards: ShardSetRef, heldout_ids: pa.Array, loc) -> str:
    """The method's shards in order, minus held-out documents, as one parquet file."""
    tables = []
    for shard in shards.shards:
        src = resolve(shard.path)
        table = pq.read_table(src.path, filesystem=src.fs, columns=["id", "text", "score"])
        tables.append(table.filter(pc.invert(pc.is_in(table.column("id"), value_set=heldout_ids))))
    write_parquet_atomic(
        pa.concat_tables(tables).select(["text", "score"]), loc, row_group_size=2048
    )
    return loc.uri


def boundary_positions(score: np.ndarray) -> list[int]:
    """Where an order restarts low (a fold boundary): rank drops of more than a quarter."""
    if score.size < 2:
        return []
    ranks = np.searchsorted(np.sort(score), score) / score.size
    return (np.flatnonzero(np.diff(ranks) < -0.25) + 1).tolist()


def probe_settings(spec) -> tuple[ProbeConfig, dict]:
    """The model/budget config and the split/worker settings for the project's preset."""
    if spec.preset not in PRESETS:
        raise ValueError(f"unknown probe preset {spec.preset!r}; known: {sorted(PRESETS)}")
    values = {**PRESETS[spec.preset], **SPLIT, **spec.overrides}
    split = {k: values.pop(k) for k in list(SPLIT)}
    return ProbeConfig(**values), split


def build_probe_assets(project):
    partitions = recipe_partitions(project)

    @asset(
        partitions_def=partitions,
        backfill_policy=SINGLE_RUN,
        group_name="probes",
        description="Short training runs of a tiny byte-level GPT on each probed recipe.",
        kinds={"pytorch"},
        owners=OWNERS,
        code_version=CODE_VERSION,
    )
    def probe_runs(
        context: AssetExecutionContext,
        project: ProjectResource,
        raw_corpus: CorpusRef,
        sample_scores: ScoresRef,
        shards: dict,
    ) -> dict:
        proj = project.project
        cfg, split_cfg = probe_settings(proj.probe)
        probed = [name for name in context.partition_keys if proj.recipe(name).probe]
        out = {
            name: {"recipe": name, "probed": False, "results": []}
            for name in context.partition_keys
            if name not in probed
        }
        if not probed:
            return out
        ids, scores = aligned_scores(raw_corpus, sample_scores)
        split = heldout_split(
            ids, scores, split_cfg["heldout_fraction"], split_cfg["extreme_fraction"]
        )
        key = hashlib.sha256(
            json.dumps(
                [
                    sample_scores.version,
                    raw_corpus.version,
                    cfg.to_dict(),
                    proj.probe.seeds,
                    {name: shards[name].ordering.key for name in probed},
                ],
                sort_keys=True,
            ).encode()
        ).hexdigest()[:16]
        base = resolve(proj.path("work", "probes", key))
        done = base.join("results.json")
        if exists(done):
            results = [ProbeResult.from_dict(r) for r in json.loads(read_bytes(done))]
        else:
            eval_sets = {
                name: [
                    write_rows(
                        raw_corpus.uri,
                        rows,
                        raw_corpus.text_column,
                        base.join("eval", f"{name}.parquet"),
                    )
                ]
                for name, rows in split.items()
            }
            heldout_ids = ids.take(pa.array(np.unique(np.concatenate(list(split.values())))))
            jobs = []
            for name in probed:
                stream = training_stream(
                    shards[name], heldout_ids, base.join("train", f"{name}.parquet")
                )
                loc = resolve(stream)
                score = pq.read_table(loc.path, filesystem=loc.fs, columns=["score"])
                bounds = boundary_positions(score.column(0).to_numpy())
                steps = steps_at_documents([stream], bounds, cfg)
                for seed in range(proj.probe.seeds):
                    jobs.append(
                        ProbeJob(
                            method=name,
                            seed=seed,
                            shards=[stream],
                            eval_sets=eval_sets,
                            config=cfg,
                            boundary_steps=steps,
                        )
                    )
            context.log.info(f"training {len(jobs)} probes ({split_cfg['workers']} processes)")
            results = run_probes(jobs, workers=split_cfg["workers"])
            write_bytes(done, json.dumps([r.to_dict() for r in results]).encode())
        for name in probed:
            mine = [r for r in results if r.method == name]
            out[name] = {
                "recipe": name,
                "probed": True,
                "key": key,
                "results": [r.to_dict() for r in mine],
                "curve": shards[name].ordering.curve,
            }
            add_partition_metadata(
                context,
                {
                    "recipe": name,
                    "seeds": len(mine),
                    "tokens_per_s": round(float(np.mean([r.tokens_per_s for r in mine])), 1),
                    "probe_key": key,
                },
                name,
            )
        return out

    @asset(
        backfill_policy=SINGLE_RUN,
        group_name="probes",
        description="Which recipe's order trains best, with error bars: table and plots.",
        kinds={"pytorch"},
        owners=OWNERS,
        code_version=CODE_VERSION,
        ins={"probe_runs": AssetIn("probe_runs", metadata={"allow_missing_partitions": True})},
    )
    def probe_report(
        context: AssetExecutionContext, project: ProjectResource, probe_runs: dict
    ) -> dict:
        proj = project.project
        runs = [v for v in probe_runs.values() if v.get("probed")]
        missing = [r.name for r in proj.recipes if r.probe and r.name not in probe_runs]
        results = [ProbeResult.from_dict(r) for run in runs for r in run["results"]]
        curves = {
            run["recipe"]: (
                np.asarray(run["curve"]["position"]),
                np.asarray(run["curve"]["score"]),
            )
            for run in runs
        }
        key = hashlib.sha256(json.dumps(sorted(run["key"] for run in runs)).encode()).hexdigest()[
            :16
        ]
        out = proj.path("work", "reports", key)
        if not results:
            context.log.warning("no probed recipe has finished probe runs")
            return {"dir": out, "missing": missing, "recipes": []}
        report = write_report(results, out, score_curves=curves, title="Ordering probe report")
        images = {}
        for path in report["images"]:
            name = path.rsplit("/", 1)[-1].removesuffix(".png")
            images[f"plot_{name}"] = png_markdown(read_bytes(resolve(path)), name)
        context.add_output_metadata(
            {
                "summary": table_value(report["table"]),
                "report": MetadataValue.md(report["markdown"]),
                "report_path": MetadataValue.path(report["report_path"]),
                "missing_recipes": missing,
                **images,
            }
        )
        return {
            "dir": out,
            "report_path": report["report_path"],
            "missing": missing,
            "recipes": sorted(curves),
        }

    return probe_runs, probe_report
