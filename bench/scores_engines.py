"""Built-in scoring of a 10^6-document corpus on the local engine (worker processes) and on
Ray (a Ray Data actor pool), in alternating rounds in this process; the scores must be equal.

    python bench/scores_engines.py [--docs 1e6] [--rounds 2] [--scorer compression]

A local Ray is started once before the rounds (start-up reported apart); both engines use
every core. Printed per round: wall time and the peak resident set of this process's whole
tree (scoring workers, Ray's processes), sampled from /proc.
"""

import argparse
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MiB = 1 << 20


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=float, default=1e6)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--scorer", default="compression")
    args = parser.parse_args()
    from bench import pipeline_scale
    from curation.engines.ray_cluster import ray_cluster
    from curation.engines.ray_scores import score_units_on_ray
    from curation.machine import ResidentSampler, available_cores
    from curation.scores.base import score_corpus

    corpus = str(pipeline_scale.build_corpus(int(args.docs)))
    cores = available_cores()
    print(f"corpus {corpus}, scorer {args.scorer}, {cores} cores", flush=True)
    started = time.perf_counter()
    with ray_cluster(None, object_store_mb=512) as connection, ResidentSampler() as sampler:
        print(f"ray start-up: {time.perf_counter() - started:.1f} s (apart)", flush=True)
        engine = partial(score_units_on_ray, actors=connection.cpus)
        results: dict[str, list] = {"local": [], "ray": []}
        reference = None
        for r in range(args.rounds):
            for name in ("local", "ray") if r % 2 == 0 else ("ray", "local"):
                kw = {"engine": engine} if name == "ray" else {"workers": cores}
                t0, s0 = time.perf_counter(), time.time()
                table = score_corpus(corpus, [args.scorer], progress=False, **kw)
                wall, s1 = time.perf_counter() - t0, time.time()
                values = table.column(args.scorer).to_numpy()
                reference = values if reference is None else reference
                same = bool(np.array_equal(values, reference))
                peak = sampler.peak_between(s0, s1) / MiB
                results[name].append(wall)
                print(
                    f"round {r + 1} {name:5s} wall {wall:6.1f} s  peak tree RSS {peak:6.0f} MiB"
                    f"  {len(values) / wall / cores:,.0f} docs/s per core  same scores: {same}",
                    flush=True,
                )
    ratios = [r / lo for r, lo in zip(results["ray"], results["local"], strict=True)]
    print(f"ray / local scoring wall: {', '.join(f'{x:.2f}' for x in ratios)} (per round)")


if __name__ == "__main__":
    main()
