"""``pipeline_scale.py --selection``: a recipe keeping 50 % against the same recipe on all rows.

The same SAW-2 (JIT) ordering of every row and of the top 50 % by a uniform random score (so
the kept rows are spread over every source row group: the case where selection saves least
on reading). Two measurements, each in ``--rounds`` rounds and reported per round with the
median of the ratios top50 / all (these 2-core machines are shared and noisy):

- the whole pipeline (no probes) in a child process, both recipes in one run: rows, bytes
  published, and the seconds of each recipe's shard steps (scatter and write units);
- the reorder alone in this process, one thread, the two recipes alternating in each round:
  scatter (read every source file, spill the kept rows) and write (spill -> parquet).

Writing scales with the kept rows; scatter still reads and decodes the whole corpus to find
them, which is the floor a selection cannot remove.
"""

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pipeline_scale import CACHE, MiB, build_corpus, run_pipeline, step_windows

#: the same SAW-2 (JIT) ordering of the whole corpus and of the top half by the same score
SELECTION_RECIPES = [
    {"name": "saw-all", "method": "saw", "params": {"num_sections": 2, "window_fraction": 0.005}},
    {
        "name": "saw-top50",
        "method": "saw",
        "params": {"num_sections": 2, "window_fraction": 0.005},
        "select": {"top_fraction": 0.5},
    },
]


RATIOS = ("rows", "bytes", "shard_s", "scatter_s", "write_s")


def random_scores(corpus: Path, n_docs: int) -> Path:
    """A cached score table (``id``, ``quality`` uniform in [0, 1)): the kept half is spread
    over every source row group, the case where selection saves least on reading."""
    out = CACHE / f"scale-{n_docs}-scores.parquet"
    if not out.exists():
        ids = pa.concat_tables(
            pq.read_table(p, columns=["id"]) for p in sorted(corpus.glob("*.parquet"))
        ).column("id")
        quality = np.random.default_rng(7).random(len(ids))
        pq.write_table(pa.table({"id": ids, "quality": quality}), str(out) + ".tmp")
        os.replace(str(out) + ".tmp", out)
    return out


def shard_cost(home: Path, windows: list, recipe: str) -> dict:
    """One recipe's shard steps (scatter + write units, its own mapping key) and the bytes
    and rows of its published version."""
    from assets.partitions import mapping_key

    key = mapping_key(recipe)
    mine = [(step, end - start) for step, start, end in windows if step.startswith("shards.")]
    mine = [(step, seconds) for step, seconds in mine if key in step]
    steps = [seconds for _, seconds in mine]
    scatter = sum(seconds for step, seconds in mine if "scatter" in step)
    write = sum(seconds for step, seconds in mine if "write" in step)
    dataset = home / "storage" / "published" / recipe
    version = json.loads((dataset / "latest.json").read_text())["version"]
    manifest = json.loads((dataset / version / "manifest.json").read_text())
    parts = sorted((dataset / version).glob("part-*.parquet"))
    return {
        "shard_s": float(sum(steps)),
        "scatter_s": float(scatter),
        "write_s": float(write),
        "units": len(steps),
        "bytes": sum(p.stat().st_size for p in parts),
        "rows": int(manifest["num_rows"]),
    }


def measure_selection(n_docs: int, args: argparse.Namespace) -> dict:
    """``saw-all`` against ``saw-top50`` in one pipeline run, ``args.rounds`` times (fresh
    instance and storage each): bytes written and shard seconds, their ratio per round."""
    import yaml

    corpus = build_corpus(n_docs)
    scores = random_scores(corpus, n_docs)
    print(f"\n== selection, {n_docs:,} documents: {corpus}, scores {scores} ==", flush=True)
    rounds = []
    for r in range(args.rounds):
        with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
            home = Path(tmp)
            config = home / "curation.yaml"
            project = {
                "scores": {"uri": str(scores), "columns": ["quality"]},
                "run": {"shard_steps": 2},
                "recipes": SELECTION_RECIPES,
            }
            config.write_text(yaml.safe_dump(project, sort_keys=False))
            res = run_pipeline(corpus, args, home, {"CURATION_CONFIG": str(config)})
            if res["code"]:
                tail = res["log"].read_text().splitlines()[-15:]
                raise SystemExit("pipeline FAILED:\n  " + "\n  ".join(tail))
            windows = step_windows(home)
            cost = {
                rec["name"]: shard_cost(home, windows, rec["name"]) for rec in SELECTION_RECIPES
            }
        full, half = cost["saw-all"], cost["saw-top50"]
        ratio = {k: half[k] / max(full[k], 1e-9) for k in RATIOS}
        rounds.append({"all": full, "top50": half, "ratio": ratio})
        print(
            f"round {r + 1}: all {full['rows']:,} rows {full['bytes'] / MiB:,.1f} MiB "
            f"{full['shard_s']:.1f} s (scatter {full['scatter_s']:.1f}, write "
            f"{full['write_s']:.1f}; {full['units']} units); top50 {half['rows']:,} rows "
            f"{half['bytes'] / MiB:,.1f} MiB {half['shard_s']:.1f} s (scatter "
            f"{half['scatter_s']:.1f}, write {half['write_s']:.1f}); ratios "
            + ", ".join(f"{k} {v:.3f}" for k, v in ratio.items()),
            flush=True,
        )
    median = {k: float(np.median([x["ratio"][k] for x in rounds])) for k in RATIOS}
    alone = reorder_rounds(corpus, scores, args.rounds, args.memory_mb)
    alone_median = {k: float(np.median([x["ratio"][k] for x in alone])) for k in alone[0]["ratio"]}
    print(
        f"median of {len(rounds)} rounds, top50 / all: "
        + ", ".join(f"{k} {v:.3f}" for k, v in median.items())
        + " (goal: bytes 0.5, shard time about 0.5; scatter reads the whole corpus either way)",
        flush=True,
    )
    print(
        f"reorder alone, median of {len(alone)} alternating rounds, top50 / all: "
        + ", ".join(f"{k} {v:.3f}" for k, v in alone_median.items()),
        flush=True,
    )
    return {
        "mode": "selection",
        "docs": n_docs,
        "rounds": rounds,
        "median_ratio": median,
        "reorder_rounds": alone,
        "reorder_median_ratio": alone_median,
    }


def reorder_rounds(corpus: Path, scores: Path, rounds: int, memory_mb: int) -> list[dict]:
    """The reorder alone (scatter + write, one thread) for all rows and the kept half,
    alternating which goes first each round."""
    from curation.ordering.engine import order
    from curation.ordering.selection import order_selected, select
    from curation.shards import ShardJob, corpus_layout, plan_shards, rows_per_shard_for
    from curation.shards.bucket import scatter_file, shard_from_spill

    layout = corpus_layout(str(corpus))
    values = pq.read_table(scores, columns=["quality"]).column("quality").to_numpy()
    n = values.size
    full = np.asarray(order(values, "saw", num_sections=2, window_size=round(0.005 * n)))
    kept = select(values, "top_fraction", 0.5)
    half, _ = order_selected(
        values, kept, "saw", num_sections=2, window_size=round(0.005 * kept.kept)
    )
    per_shard = rows_per_shard_for(layout, 256 * MiB)

    def run(rows: np.ndarray) -> dict:
        job = ShardJob.prepare(
            layout, rows, memory_limit_bytes=memory_mb * MiB, positions=True, subset=True
        )
        specs = plan_shards(rows.size, per_shard)
        work = Path(tempfile.mkdtemp(dir=CACHE))
        try:
            t0 = time.perf_counter()
            for f in range(len(layout.files)):
                scatter_file(job, specs, str(work / "spill"), f)
            t1 = time.perf_counter()
            written = sum(
                shard_from_spill(job, s, str(work / "spill"), str(work / "out")).bytes
                for s in specs
            )
            t2 = time.perf_counter()
        finally:
            shutil.rmtree(work)
        return {"scatter_s": t1 - t0, "write_s": t2 - t1, "shard_s": t2 - t0, "bytes": written}

    out = []
    for r in range(rounds):
        pair = [("all", full), ("top50", half)]
        got = {name: run(rows) for name, rows in (pair if r % 2 == 0 else pair[::-1])}
        ratio = {
            k: got["top50"][k] / got["all"][k] for k in ("bytes", "shard_s", "scatter_s", "write_s")
        }
        out.append({**got, "ratio": ratio})
        print(
            f"reorder round {r + 1}: all scatter {got['all']['scatter_s']:.2f} s write "
            f"{got['all']['write_s']:.2f} s; top50 scatter {got['top50']['scatter_s']:.2f} s "
            f"write {got['top50']['write_s']:.2f} s; ratios "
            + ", ".join(f"{k} {v:.3f}" for k, v in ratio.items()),
            flush=True,
        )
    return out
