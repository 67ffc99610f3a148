"""A probe experiment outside any orchestrator: held-out split, evaluation sets, one
shard file per recipe and the (recipe, seed) jobs, run in parallel processes.

The pipeline builds the same pieces from its own shards; benchmarks and tests use this
to run a preset end to end on an in-memory corpus.
"""

import io
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import replace
from multiprocessing import get_context

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curation import storage
from curation.ordering.engine import order
from curation.probe import data
from curation.probe.config import ProbeConfig
from curation.probe.heldout import HeldOut
from curation.probe.result import ProbeResult
from curation.probe.tokens import load as load_tokenizer
from curation.probe.train import ProbeJob, Progress, run_probe
from curation.shards.columns import SCORE


def save_eval_sets(tokens: dict[str, np.ndarray], out_dir: str) -> dict[str, str]:
    """Each evaluation set's tokens as ``<out_dir>/<name>.npy``; ``{name: uri}``."""
    uris = {}
    for name, arr in tokens.items():
        if arr.size == 0:
            raise data.ProbeDataError(f"evaluation set {name!r} is empty")
        buf = io.BytesIO()
        np.save(buf, arr, allow_pickle=False)
        loc = storage.resolve(out_dir).join(f"{name}.npy")
        storage.write_bytes(loc, buf.getvalue())
        uris[name] = loc.uri
    return uris


def build_eval_sets(
    corpus: pa.Table, scores: np.ndarray, cfg: ProbeConfig, out_dir: str
) -> tuple[HeldOut, dict[str, str]]:
    """The held-out predicate of a corpus (``id``, ``text``) and its saved eval sets."""
    heldout = HeldOut.from_corpus(
        corpus.column("id"), scores, cfg.heldout_fraction, cfg.extreme_fraction
    )
    table = corpus.select(["id", "text"]).append_column("score", pa.array(scores))
    tokens = data.collect_eval_tokens(
        iter(table.to_batches(data.READ_ROWS)),
        heldout,
        load_tokenizer(cfg.tokenizer),
        cfg.eval_max_tokens,
    )
    return heldout, save_eval_sets(tokens, out_dir)


def write_recipe_shard(
    corpus: pa.Table, scores: np.ndarray, method: str, out_dir: str, **params
) -> tuple[str, dict]:
    """The corpus in ``method``'s order as one parquet file, and the ordering summary a
    job needs for boundaries (``{"method", "params", "n"}``)."""
    positions = order(scores, method, **params)
    table = corpus.select(["id", "text"]).append_column(SCORE, pa.array(scores))
    loc = storage.resolve(out_dir).join(f"{method}.parquet")
    os.makedirs(os.path.dirname(loc.path), exist_ok=True)
    pq.write_table(table.take(pa.array(np.asarray(positions))), loc.path, row_group_size=4096)
    return loc.uri, {"method": method, "params": positions.metadata["params"], "n": len(scores)}


def make_jobs(
    corpus: pa.Table,
    scores: np.ndarray,
    methods: list[str],
    cfg: ProbeConfig,
    work_dir: str,
) -> list[ProbeJob]:
    """Every (recipe, seed) job of an experiment, eval sets and shards written once."""
    heldout, eval_sets = build_eval_sets(corpus, scores, cfg, os.path.join(work_dir, "eval"))
    jobs = []
    for method in methods:
        shard, ordering = write_recipe_shard(
            corpus, scores, method, os.path.join(work_dir, "shards")
        )
        jobs += [
            ProbeJob(
                recipe=method,
                seed=seed,
                shards=(shard,),
                eval_sets=eval_sets,
                config=cfg,
                work_dir=os.path.join(work_dir, "runs"),
                heldout=heldout,
                ordering=ordering,
            )
            for seed in range(cfg.seeds)
        ]
    return jobs


def _print_progress(job: ProbeJob):
    def report(p: Progress) -> None:
        print(
            f"{job.recipe}/seed {job.seed}: step {p.step}/{p.steps} "
            f"loss {p.loss_bits:.3f} {p.tokens_per_s:,.0f} tok/s",
            flush=True,
        )

    return report


def _run(job: ProbeJob) -> ProbeResult:
    return run_probe(job, _print_progress(job) if job.extra.get("verbose") else None)


def run_many(
    jobs: list[ProbeJob],
    workers: int = 2,
    verbose: bool = False,
    on_result: Callable[[ProbeResult], None] | None = None,
) -> list[ProbeResult]:
    """Jobs in ``workers`` spawned processes (each with ``config.threads`` threads);
    results in job order, each also handed to ``on_result`` as soon as it finishes (so a
    long experiment keeps what finished). Small processes beat one multi-threaded one."""
    if verbose:
        jobs = [replace(j, extra={**j.extra, "verbose": True}) for j in jobs]
    done = on_result or (lambda r: None)
    if workers <= 1 or len(jobs) <= 1:
        out = []
        for j in jobs:
            out.append(_run(j))
            done(out[-1])
        return out
    with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=get_context("spawn")) as pool:
        futures = {pool.submit(_run, j): i for i, j in enumerate(jobs)}
        results: list[ProbeResult | None] = [None] * len(jobs)
        for future in as_completed(futures):
            results[futures[future]] = future.result()
            done(results[futures[future]])
    return results


def scored_sample(corpus: pa.Table, max_bytes: int) -> tuple[pa.Table, np.ndarray]:
    """About ``max_bytes`` of a corpus (``id``, ``text``; documents in a fixed random order)
    with the built-in compression score: how the design's measurements were set up."""
    from curation.scores.builtin.compression import CompressionScorer

    table = corpus.select(["id", "text"])
    table = table.take(pa.array(np.random.default_rng(0).permutation(table.num_rows)))
    sizes = np.cumsum(pc.binary_length(table.column("text")).to_numpy())
    table = table.slice(0, int(np.searchsorted(sizes, max_bytes)))
    return table, CompressionScorer().score(table.column("text"))
