"""probe_runs and probe_report: tiny byte-level GPTs trained on each ordering, compared honestly.

Every method trains on the same documents (its own order), minus a held-out split that no
ordering trains on; the same seeds give every method the same initial weights. Evaluation
targets are chosen by score, because a random held-out set favours orders that end on
random data while the paper's point is ending on the best data: we report all of them.
"""

import hashlib
import json
import time

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from dagster import AssetExecutionContext, AssetIn, Config, MetadataValue, asset

from assets.metadata import png_markdown
from assets.orderings import aligned_scores
from assets.resources import CurationSettings
from curation.probe.report import write_report
from curation.probe.train import ProbeConfig, ProbeJob, ProbeResult, run_probes, steps_at_documents
from curation.storage import exists, read_bytes, resolve, write_bytes, write_parquet_atomic

DEFAULT_METHODS = ["random", "sorted", "folding", "str", "saw"]


class ProbeRunConfig(Config):
    """Probe budget and design.

    Defaults (a 2-layer, d=64, context-128 byte-level GPT; 300 KB spread evenly over each
    ordering; 2 seeds; 2 worker processes) finish in about two minutes on 2 CPU cores. The
    design's more telling setting (n_layer=4, d_model=96, context=256, token_budget=None for
    one full pass, seeds=3) takes roughly ten times longer.
    """

    methods: list[str] = []  # empty: random, sorted, folding, str, saw (those deployed)
    seeds: int = 2
    token_budget: int | None = 300_000
    workers: int = 2
    n_layer: int = 2
    d_model: int = 64
    context: int = 128
    batch_size: int = 16
    lr: float = 3e-3
    eval_points: int = 10
    heldout_fraction: float = 0.04
    extreme_fraction: float = 0.02
    device: str = "auto"


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


def training_stream(shards: dict, heldout_ids: pa.Array, loc) -> str:
    """The method's shards in order, minus held-out documents, as one parquet file."""
    tables = []
    for shard in shards["shards"]:
        src = resolve(shard["path"])
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


def run_probe_jobs(
    context: AssetExecutionContext,
    config: ProbeRunConfig,
    settings: CurationSettings,
    raw_corpus: dict,
    sample_scores: dict,
    **shards: dict,
) -> dict:
    started = time.perf_counter()
    available = [name.removeprefix("shards_") for name in shards]
    unknown = sorted(set(config.methods) - set(available))
    if unknown:
        raise ValueError(f"unknown probe method(s) {unknown}; this deployment orders {available}")
    config = config.model_copy(
        update={
            "methods": list(config.methods)
            or [m for m in DEFAULT_METHODS if m in available]
            or available
        }
    )
    ids, scores = aligned_scores(settings, raw_corpus, sample_scores)
    split = heldout_split(ids, scores, config.heldout_fraction, config.extreme_fraction)
    key = hashlib.sha256(
        json.dumps(
            [
                sample_scores["version"],
                raw_corpus["version"],
                config.model_dump(),
                {m: shards[f"shards_{m}"]["ordering"]["key"] for m in config.methods},
            ],
            sort_keys=True,
        ).encode()
    ).hexdigest()[:16]
    base = resolve(settings.path("work", "probes", key))
    done = base.join("results.json")
    if exists(done):
        value = json.loads(read_bytes(done))
        context.add_output_metadata({"reused": True, "runs": len(value["results"]), "key": key})
        return value
    eval_sets = {
        name: [
            write_rows(
                raw_corpus["uri"], rows, settings.text_column, base.join("eval", f"{name}.parquet")
            )
        ]
        for name, rows in split.items()
    }
    heldout_ids = ids.take(pa.array(np.unique(np.concatenate(list(split.values())))))
    cfg = ProbeConfig(
        n_layer=config.n_layer,
        d_model=config.d_model,
        context=config.context,
        batch_size=config.batch_size,
        lr=config.lr,
        eval_points=config.eval_points,
        token_budget=config.token_budget,
        device=config.device,
    )
    jobs = []
    for method in config.methods:
        stream = training_stream(
            shards[f"shards_{method}"], heldout_ids, base.join("train", f"{method}.parquet")
        )
        loc = resolve(stream)
        score = pq.read_table(loc.path, filesystem=loc.fs, columns=["score"]).column(0).to_numpy()
        boundaries = steps_at_documents([stream], boundary_positions(score), cfg)
        for seed in range(config.seeds):
            jobs.append(
                ProbeJob(
                    method=method,
                    seed=seed,
                    shards=[stream],
                    eval_sets=eval_sets,
                    config=cfg,
                    boundary_steps=boundaries,
                )
            )
    context.log.info(f"training {len(jobs)} probes ({config.workers} processes)")
    results = run_probes(jobs, workers=config.workers)
    value = {
        "key": key,
        "results": [r.to_dict() for r in results],
        "eval_sets": {k: int(v.size) for k, v in split.items()},
    }
    write_bytes(done, json.dumps(value).encode())
    context.add_output_metadata(
        {
            "runs": len(results),
            "methods": config.methods,
            "seeds": config.seeds,
            "key": key,
            "eval_docs": value["eval_sets"],
            "reused": False,
            "tokens_per_s": float(np.mean([r.tokens_per_s for r in results])),
            "seconds": round(time.perf_counter() - started, 1),
        }
    )
    return value


def build_report(
    context: AssetExecutionContext, settings: CurationSettings, probe_runs: dict, **orderings: dict
) -> dict:
    results = [ProbeResult.from_dict(r) for r in probe_runs["results"]]
    methods = sorted({r.method for r in results})
    curves = {
        m: (
            np.asarray(orderings[f"ordering_{m}"]["curve"]["position"]),
            np.asarray(orderings[f"ordering_{m}"]["curve"]["score"]),
        )
        for m in methods
    }
    out = settings.path("work", "reports", probe_runs["key"])
    report = write_report(
        results, out, score_curves=curves, title=f"Ordering probe report: {settings.dataset}"
    )
    images = {}
    for path in report["images"]:
        name = path.rsplit("/", 1)[-1].removesuffix(".png")
        images[f"plot_{name}"] = png_markdown(read_bytes(resolve(path)), name)
    context.add_output_metadata(
        {
            "report": MetadataValue.md(report["markdown"]),
            "report_path": report["report_path"],
            **images,
        }
    )
    return {
        "dir": out,
        "report_path": report["report_path"],
        "images": report["images"],
        "table": report["table"],
    }


def build_probe_assets(methods: list[str]):
    """probe_runs (seeds x methods) and probe_report, wired to the deployed methods."""

    probe_runs = asset(
        name="probe_runs",
        group_name="probes",
        description="Short training runs of a tiny byte-level GPT on each ordering.",
        ins={
            **{f"shards_{m}": AssetIn(f"shards_{m}") for m in methods},
            "raw_corpus": AssetIn("raw_corpus"),
            "sample_scores": AssetIn("sample_scores"),
        },
    )(run_probe_jobs)
    probe_report = asset(
        name="probe_report",
        group_name="probes",
        description="Which ordering wins, with error bars: markdown table and plots.",
        ins={
            "probe_runs": AssetIn("probe_runs"),
            **{f"ordering_{m}": AssetIn(f"ordering_{m}") for m in methods},
        },
    )(build_report)
    return probe_runs, probe_report
