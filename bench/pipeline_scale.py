"""Whole pipeline at 10^5, 10^6 and 10^7 documents: wall time and peak RSS per stage.

Usage: python bench/pipeline_scale.py [--docs 1e5 1e6] [--memory-mb 1024] [--out FILE]
       python bench/pipeline_scale.py --selection [--docs 1e6] [--rounds 3]

For each size it builds (once, cached under var/bench/) a real-text corpus from the demo
text -- documents are whole-word slices of the Wikipedia and news text, with unique string
ids, in several parquet files -- then runs the whole pipeline (shipped recipes, probes on) in
a fresh Dagster instance in a child process, while this process samples the resident set of
the child's whole process tree (scoring workers included). It prints, per stage, the sum of
its steps' wall times and the peak resident set while they ran, and two ratios measured in
the same run:

- data stages (all but scoring and probes) against the floor: a bare single-threaded
  pyarrow read + write of the corpus, once per recipe;
- cost per document against the previous (smaller) size.

``--selection`` compares instead a recipe keeping 50 % with the same recipe on every row
(``bench/pipeline_selection.py``).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CACHE = ROOT / "var" / "bench"
MiB = 1 << 20
CHUNK_DOCS = 200_000
# the stage a step belongs to: the first of these its key starts with (checks included)
STAGES = ("raw_corpus", "sample_scores", "ordering", "shards", "published", "probe")
NOT_DATA = ("sample_scores", "probe")


# ----------------------------------------------------------------------------- corpus


def demo_pool() -> tuple[np.ndarray, np.ndarray]:
    """The demo text as one UTF-8 byte array, and the offsets of its spaces (ASCII, so a
    slice between two spaces is valid UTF-8)."""
    from demo.data import prepare_demo_corpus

    demo = prepare_demo_corpus(str(ROOT / "var" / "demo"), str(ROOT / "var" / "cache"))
    texts = pq.read_table(demo, columns=["text"]).column("text").to_pylist()
    pool = np.frombuffer(" ".join(texts).replace("\n", " ").encode(), np.uint8)
    return pool, np.flatnonzero(pool == ord(" "))


def make_chunk(rng, pool, spaces, first_id: int, n: int) -> pa.Table:
    """``n`` documents: whole-word slices of lognormal length (median ~200 bytes)."""
    lengths = np.clip(rng.lognormal(5.3, 0.7, n), 20, 4000).astype(np.int64)
    usable = spaces[spaces < pool.size - 4100]
    starts = usable[rng.integers(0, usable.size, n)] + 1
    ends = spaces[np.searchsorted(spaces, starts + lengths)]
    lengths = ends - starts
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    index = np.repeat(starts - offsets[:-1], lengths) + np.arange(offsets[-1])
    text = pa.LargeStringArray.from_buffers(
        n, pa.py_buffer(offsets), pa.py_buffer(pool[index].tobytes())
    ).cast(pa.string())
    numbers = pc.cast(pa.array(np.arange(first_id, first_id + n)), pa.string())
    ids = pc.binary_join_element_wise(pa.scalar("doc-"), numbers, "")
    return pa.table({"id": ids, "text": text})


def build_corpus(n_docs: int) -> Path:
    """A cached corpus of ``n_docs`` documents in 4 (or more: ~2.5M docs each) files. One
    process builds it; another asking meanwhile waits for it."""
    out = CACHE / f"scale-{n_docs}"
    lock = CACHE / f"scale-{n_docs}.building"
    CACHE.mkdir(parents=True, exist_ok=True)
    while not (out / "_DONE").exists():
        try:
            lock.touch(exist_ok=False)
            break
        except FileExistsError:
            time.sleep(5)
    if (out / "_DONE").exists():
        return out
    out.mkdir(parents=True, exist_ok=True)
    pool, spaces = demo_pool()
    rng = np.random.default_rng(n_docs)
    files = max(4, int(np.ceil(n_docs / 2_500_000)))
    bounds = np.linspace(0, n_docs, files + 1).astype(np.int64)
    for f in range(files):
        path = out / f"part-{f:03d}.parquet"
        with pq.ParquetWriter(path, make_chunk(rng, pool, spaces, 0, 1).schema) as writer:
            for a in range(int(bounds[f]), int(bounds[f + 1]), CHUNK_DOCS):
                n = min(CHUNK_DOCS, int(bounds[f + 1]) - a)
                writer.write_table(make_chunk(rng, pool, spaces, a, n), row_group_size=50_000)
    (out / "_DONE").write_text("ok")
    lock.unlink()
    return out


# ----------------------------------------------------------------------------- floor


def floor_seconds(corpus: Path, copies: int) -> float:
    """Bare pyarrow on one thread: read the corpus and write it back, ``copies`` times."""
    cmd = [sys.executable, __file__, "--floor-child", str(corpus), "--copies", str(copies)]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return float(done.stdout.strip().splitlines()[-1])


def floor_child(corpus: Path, copies: int) -> None:
    from curation.shards import WRITER_OPTIONS

    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for c in range(copies):
            for i, path in enumerate(sorted(corpus.glob("*.parquet"))):
                pf = pq.ParquetFile(path)
                target = Path(tmp, f"copy-{c}-{i}.parquet")
                with pq.ParquetWriter(target, pf.schema_arrow, **WRITER_OPTIONS) as w:
                    for g in range(pf.num_row_groups):
                        w.write_table(pf.read_row_group(g, use_threads=False))
                target.unlink()
    print(time.perf_counter() - started)


# ----------------------------------------------------------------------------- pipeline


def pipeline_command() -> list[str]:
    """``curation run`` (the recipes in CURATION_RECIPES, one run over all of them)."""
    return [sys.executable, "-m", "curation.cli", "run", "--quiet"]


def run_pipeline(
    corpus: Path, args: argparse.Namespace, home: Path, extra_env: dict | None = None
) -> dict:
    """Run the pipeline in a child process; sample its process tree's resident set."""
    from curation.machine import ResidentSampler

    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "CURATION_ROOT": str(home / "storage"),
        "CURATION_CORPUS": str(corpus),
        "CURATION_MEMORY_LIMIT_MB": str(args.memory_mb),
        "MIMALLOC_PURGE_DELAY": "0",
        "MPLBACKEND": "Agg",
        "PYTHONPATH": str(ROOT),
        "CURATION_ENGINE": getattr(args, "engine", "local"),  # ray: its processes in the tree
        **(extra_env or {}),
    }
    if args.recipe_names:
        env["CURATION_RECIPES"] = args.recipe_names
    log = open(home / "pipeline.log", "w")  # noqa: SIM115
    started = time.time()
    proc = subprocess.Popen(pipeline_command(), cwd=ROOT, env=env, stdout=log, stderr=log)
    with ResidentSampler(proc.pid, interval=0.25) as sampler:
        code = proc.wait()
    log.close()
    return {
        "code": code,
        "wall": time.time() - started,
        "peak": sampler.peak,
        "sampler": sampler,
        "log": home / "pipeline.log",
    }


def step_windows(home: Path) -> list[tuple[str, float, float]]:
    """(step key, start, end) of every step of every run in the instance."""
    os.environ["DAGSTER_HOME"] = str(home)
    from dagster import DagsterInstance

    from assets.run import step_windows as run_step_windows

    windows = []
    with DagsterInstance.get() as instance:
        for run in instance.get_runs():
            windows += run_step_windows(instance, run.run_id)
    return windows


def stage_of(step: str) -> str:
    return next((s for s in STAGES if step.startswith(s)), step)


def measure(n_docs: int, args: argparse.Namespace) -> dict:
    corpus = build_corpus(n_docs)
    disk = sum(p.stat().st_size for p in corpus.glob("*.parquet"))
    print(f"\n== {n_docs:,} documents: {corpus} ({disk / MiB:,.0f} MiB on disk) ==", flush=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        home = Path(tmp)
        res = run_pipeline(corpus, args, home)
        kept = CACHE / f"pipeline-{n_docs}.log"  # the run's log outlives its instance
        kept.write_text(res["log"].read_text())
        if res["code"]:
            tail = res["log"].read_text().splitlines()[-15:]
            print(f"pipeline FAILED (log: {kept}):\n  " + "\n  ".join(tail), flush=True)
        windows = step_windows(home)
    recipes = len([r for r in args.recipe_names.split(",") if r]) or 9
    floor = floor_seconds(corpus, recipes)
    stages: dict[str, list] = defaultdict(lambda: [0.0, 0])
    for step, start, end in windows:
        stage = stages[stage_of(step)]
        stage[0] += end - start
        stage[1] = max(stage[1], res["sampler"].peak_between(start, end))
    data = sum(s[0] for name, s in stages.items() if name not in NOT_DATA)
    if windows:
        first = min(start for _, start, _ in windows)
        print(f"{'step':48s} {'start s':>8s} {'seconds':>8s} {'peak RSS MiB':>13s}")
        for step, start, end in sorted(windows, key=lambda w: w[1]):
            peak = res["sampler"].peak_between(start, end) / MiB
            print(f"{step:48s} {start - first:8.1f} {end - start:8.1f} {peak:13.0f}")
    print(f"{'stage':16s} {'seconds':>9s} {'peak RSS MiB':>13s}")
    for name in STAGES:
        if name in stages:
            print(f"{name:16s} {stages[name][0]:9.1f} {stages[name][1] / MiB:13.0f}")
    summary = {
        "docs": n_docs,
        "ok": res["code"] == 0,
        "wall_s": res["wall"],
        "peak_rss_mb": res["peak"] / MiB,
        "data_s": data,
        "floor_s": floor,
        "recipes": recipes,
        "stages": {k: {"s": v[0], "peak_mb": v[1] / MiB} for k, v in stages.items()},
    }
    print(
        f"wall {res['wall']:.1f} s, peak RSS {res['peak'] / MiB:,.0f} MiB (whole process tree), "
        f"data stages {data:.1f} s / floor {floor:.1f} s (bare pyarrow x {recipes} recipes) "
        f"= {data / max(floor, 1e-9):.2f}x (goal <= 3x); "
        f"{res['wall'] / n_docs * 1e6:.1f} s per 10^6 documents",
        flush=True,
    )
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", nargs="+", type=float, default=[1e5, 1e6])
    parser.add_argument("--memory-mb", type=int, default=1024, help="the run's memory setting")
    parser.add_argument(
        "--recipe-names",
        default="random,str-paper,saw-paper",
        help="shipped recipes to run (all three train probes)",
    )
    parser.add_argument("--out", default="", help="append the summaries (JSON lines) here")
    parser.add_argument(
        "--engine",
        choices=["local", "ray"],
        default="local",
        help="run.engine of the child run (ray: its local Ray's processes are in the sampled tree)",
    )
    parser.add_argument(
        "--selection",
        action="store_true",
        help="compare a recipe keeping 50%% with the same recipe on all rows (no probes)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="selection rounds")
    parser.add_argument("--floor-child")
    parser.add_argument("--copies", type=int, default=1)
    args = parser.parse_args()
    if args.floor_child:
        floor_child(Path(args.floor_child), args.copies)
        return
    CACHE.mkdir(parents=True, exist_ok=True)
    print(
        f"cores {len(os.sched_getaffinity(0))}, memory setting {args.memory_mb} MiB, "
        f"engine {args.engine}"
    )
    if args.selection:
        from pipeline_selection import measure_selection  # bench/ is on sys.path[0]

        args.recipe_names = ""
        for n in [int(d) for d in args.docs]:
            summary = measure_selection(n, args)
            if args.out:
                with open(args.out, "a") as f:
                    f.write(json.dumps(summary) + "\n")
        return
    previous = None
    for n in [int(d) for d in args.docs]:
        summary = measure(n, args)
        if previous:
            growth = (summary["wall_s"] / n) / (previous["wall_s"] / previous["docs"])
            print(f"cost per document {n:,} vs {previous['docs']:,}: {growth:.2f}x (goal <= 1.5x)")
            summary["per_doc_vs_previous"] = growth
        previous = summary
        if args.out:
            with open(args.out, "a") as f:
                f.write(json.dumps(summary) + "\n")


if __name__ == "__main__":
    main()
