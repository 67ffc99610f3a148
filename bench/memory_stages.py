"""Memory each library stage holds per document: RSS growth at two corpus sizes.

Usage: python bench/memory_stages.py CORPUS_SMALL CORPUS_LARGE [--recipes random,str-top50]

Runs the stages (corpus, scores from a generated score table, then per recipe ordering,
its check and shards, then the shard check of every recipe) in this process, once per
corpus after a warm-up pass on the small one, sampling its resident set every 10 ms from
a thread. For each stage it prints the growth over the resident set at its start, at both
sizes, and the growth per added document between them: the fixed costs (imports, GX,
thread buffers) cancel, what is left is what the stage holds per document.
``curation.stages.memory`` is calibrated from these numbers. Results:
``bench/results/memory.txt``.
"""

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from curation.machine import release_memory, tree_resident_bytes  # noqa: E402
from curation.project import parse_project  # noqa: E402
from curation.stages.corpus import build_corpus  # noqa: E402
from curation.stages.memory import footer_size, memory_needed_mb  # noqa: E402
from curation.stages.ordering import check_recipe_ordering, compute_ordering  # noqa: E402
from curation.stages.scores import build_scores, check_scores  # noqa: E402
from curation.stages.shards import build_shard_set, check_shard_sets  # noqa: E402

MiB = 1 << 20
RECIPES = {
    "random": {"method": "random"},
    "str-paper": {
        "method": "str",
        "params": {"num_sections": 2, "folding_ratio": 0.225, "folding_layer": 3},
    },
    "str-top50": {"method": "str", "select": {"top_fraction": 0.5}},
}


class Sampler:
    """The peak resident set since the last :meth:`reset`, sampled every 10 ms."""

    def __init__(self) -> None:
        self.peak = 0
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            self.peak = max(self.peak, tree_resident_bytes(os.getpid()))
            time.sleep(0.01)

    def reset(self) -> int:
        release_memory()
        time.sleep(0.05)
        self.peak = base = tree_resident_bytes(os.getpid())
        return base


def measure(corpus_dir: str, work: Path, recipes: list[str], sampler: Sampler) -> dict:
    """Stage name -> (growth in bytes, documents) for one corpus."""
    files = sorted(Path(corpus_dir).glob("*.parquet"))
    ids = pa.concat_arrays(
        [pq.read_table(f, columns=["id"]).column(0).combine_chunks() for f in files]
    )
    n = len(ids)
    work.mkdir(parents=True, exist_ok=True)
    scores = work / "scores.parquet"
    pq.write_table(pa.table({"id": ids, "quality": np.random.default_rng(0).random(n)}), scores)
    del ids
    project = parse_project(
        {
            "corpus": {"uri": corpus_dir},
            "scores": {"uri": str(scores), "columns": ["quality"]},
            "storage": {"root": str(work / "root")},
            "run": {"memory_limit_mb": max(1024, memory_needed_mb(*footer_size(corpus_dir, "id")))},
            "recipes": [{"name": r, **RECIPES[r]} for r in recipes],
        }
    )
    grown: dict = {}

    def stage(name, fn):
        base = sampler.reset()
        result = fn()
        time.sleep(0.05)
        grown[name] = sampler.peak - base
        return result

    corpus = stage("corpus", lambda: build_corpus(project))
    score_ref, _ = stage("scores", lambda: build_scores(project, corpus))
    stage("scores check", lambda: check_scores(score_ref, corpus))
    orderings, shards = {}, {}
    for r in recipes:
        recipe = project.recipe(r)
        orderings[r] = stage(
            f"ordering {r}",
            lambda recipe=recipe: compute_ordering(project, recipe, corpus, score_ref),
        )
        stage(
            f"ordering check {r}",
            lambda r=r: check_recipe_ordering(orderings[r], corpus, score_ref),
        )
        shards[r] = stage(
            f"shards {r}", lambda r=r: build_shard_set(project, orderings[r], corpus, score_ref)
        )
    stage("shard check, all recipes", lambda: check_shard_sets(corpus, orderings, shards))
    return {k: (v, n) for k, v in grown.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("small")
    parser.add_argument("large")
    parser.add_argument("--recipes", default="random,str-top50")
    args = parser.parse_args()
    sampler = Sampler()
    recipes = args.recipes.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        measure(args.small, Path(tmp) / "warm-up", recipes, sampler)  # imports, GX, pools
        small = measure(args.small, Path(tmp) / "small", recipes, sampler)
        large = measure(args.large, Path(tmp) / "large", recipes, sampler)
    print(f"{'stage':28s} {'small MiB':>10s} {'large MiB':>10s} {'bytes/added doc':>16s}")
    for name, (g_large, n_large) in large.items():
        g_small, n_small = small[name]
        per_doc = (g_large - g_small) / max(n_large - n_small, 1)
        print(f"{name:28s} {g_small / MiB:10.0f} {g_large / MiB:10.0f} {per_doc:16.0f}")


if __name__ == "__main__":
    main()
