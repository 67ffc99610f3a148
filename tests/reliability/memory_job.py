"""Run by test_memory_bound.py: build one recipe's shard set over a corpus of long ids, then
check it (the shard-integrity stage) after a warm-up, printing ``measure`` when the measured
phase starts so the test samples this process from outside."""

import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curation.project import parse_project
from curation.stages.local import prepare
from curation.stages.ordering import compute_ordering
from curation.stages.shards import build_shard_set, check_shard_sets


def built(base: Path, n: int, id_bytes: int):
    ids = pa.array([f"{i:0{id_bytes}d}" for i in range(n)])
    text = pa.array(["a b c"] * n)
    base.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"id": ids, "text": text}), base / "c.parquet", row_group_size=50_000)
    scores = np.random.default_rng(0).random(n)
    pq.write_table(pa.table({"id": ids, "quality": scores}), base / "s.parquet")
    project = parse_project(
        {
            "corpus": {"uri": str(base / "c.parquet")},
            "scores": {"uri": str(base / "s.parquet"), "columns": ["quality"]},
            "storage": {"root": str(base / "root")},
            "run": {"memory_limit_mb": 1024},  # what the pre-flight asks for 4x10^5 long ids
            "recipes": [{"name": "r", "method": "str"}],
        }
    )
    corpus, scores_ref, _ = prepare(project)
    ordering = compute_ordering(project, project.recipe("r"), corpus, scores_ref)
    shards = build_shard_set(project, ordering, corpus, scores_ref)
    return corpus, {"r": ordering}, {"r": shards}


def main() -> None:
    base, n, id_bytes = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    warm = built(base / "warm", 200, id_bytes)
    big = built(base / "big", n, id_bytes)
    assert all(o.passed for o in check_shard_sets(*warm).values())  # imports, GX context
    print("measure", flush=True)
    assert all(o.passed for o in check_shard_sets(*big).values())
    print("done", flush=True)


if __name__ == "__main__":
    main()
