"""Whole-pipeline benchmark: wall time of every asset of the demo graph, against a floor.

Usage: python bench/pipeline.py [--corpus PATH] [--seeds 2]

Runs `curation run` (the shipped curation.yaml) on a fresh instance and storage root.

Runs the real Definitions in-process on a fresh instance and storage root (temp dirs), then
prints seconds per step and per stage, and two ratios measured in the same run:
- data stages (everything but the probes) against the floor of rewriting the corpus once
  per recipe with bare pyarrow (read + write parquet), the irreducible I/O of the pipeline;
- probe stage against a bare PyTorch loop is in bench/probe.py (it dominates the demo).
"""

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def floor_seconds(corpus: str, copies: int) -> float:
    """Read the corpus and write it back ``copies`` times with bare pyarrow."""
    import pyarrow.parquet as pq

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(copies):
            pq.write_table(pq.read_table(corpus), os.path.join(tmp, f"copy-{i}.parquet"))
    return time.perf_counter() - started


def stage_of(step: str) -> str:
    for stage in ("probe", "published", "shards", "ordering", "sample_scores", "raw_corpus"):
        if step.startswith(stage):
            return stage
    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=str(ROOT / "var" / "demo" / "demo_corpus.parquet"))
    parser.add_argument("--seeds", type=int, default=2)
    args = parser.parse_args()
    if not Path(args.corpus).exists():
        from demo.data import prepare_demo_corpus

        args.corpus = prepare_demo_corpus(
            str(Path(args.corpus).parent), str(ROOT / "var" / "cache")
        )

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["DAGSTER_HOME"] = tmp
        os.environ["CURATION_ROOT"] = str(Path(tmp) / "storage")
        os.environ["CURATION_CORPUS"] = args.corpus
        os.environ["CURATION_PROBE_SEEDS"] = str(args.seeds)
        Path(tmp, "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        from dagster import DagsterInstance

        from assets.run import run_pipeline, step_seconds
        from curation.project import load_project

        recipes = len(load_project().recipes)
        started = time.perf_counter()
        assert run_pipeline(quiet=True) == 0, "the pipeline run failed"
        wall = time.perf_counter() - started
        with DagsterInstance.get() as instance:
            (run,) = instance.get_runs(limit=1)
            steps = step_seconds(instance, run.run_id)
    floor = floor_seconds(args.corpus, recipes)

    stages: dict[str, float] = defaultdict(float)
    for step, seconds in steps.items():
        stages[stage_of(step)] += seconds
    print(f"corpus {args.corpus}: pipeline wall {wall:.1f} s")
    print("\nseconds per stage (sum of its steps):")
    for stage, seconds in sorted(stages.items(), key=lambda kv: -kv[1]):
        print(f"  {stage:15s} {seconds:8.1f}")
    print("\nslowest steps:")
    for step, seconds in sorted(steps.items(), key=lambda kv: -kv[1])[:10]:
        print(f"  {step:45s} {seconds:8.2f}")
    data = sum(s for stage, s in stages.items() if stage != "probe")
    print(f"\nfloor: bare pyarrow read+write of the corpus x {recipes} recipes: {floor:.2f} s")
    print(f"data stages (all but probes) / floor = {data / floor:.1f}x")
    print(f"probe stage share of the wall time = {stages['probe'] / wall:.0%}")


if __name__ == "__main__":
    main()
