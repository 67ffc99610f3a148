"""Run by test_memory_bound.py.

``make BASE N ID_BYTES [WORDS]`` writes a corpus of N documents with ID_BYTES-byte ids and
WORDS-word texts (6), and its score table. ``run BASE MB`` publishes nine recipes (the
shipped methods, one with selection) with the library runner under
``run.memory_limit_mb: MB``, printing each stage's name as it starts."""

import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curation.project import parse_project
from curation.stages.local import run_project

PAPER = {"num_sections": 2, "folding_ratio": 0.225, "folding_layer": 3, "window_fraction": 0.005}
RECIPES = [
    {"name": "random", "method": "random"},
    {"name": "sorted", "method": "sorted"},
    {"name": "folding", "method": "folding"},
    {"name": "zigzag", "method": "zigzag"},
    {"name": "segment", "method": "segment"},
    {"name": "str", "method": "str"},
    {"name": "saw", "method": "saw"},
    {"name": "str-paper", "method": "str", "params": PAPER},
    {"name": "str-top50", "method": "str", "select": {"top_fraction": 0.5}, "params": PAPER},
]


def corpus(base: Path, n: int, id_bytes: int, words_per_text: int = 6) -> Path:
    """``n`` documents in two files: fixed-width ids, texts of a few words."""
    rng = np.random.default_rng(0)
    words = np.array(["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"])
    base.mkdir(parents=True, exist_ok=True)
    half = n // 2
    for part, (lo, hi) in enumerate([(0, half), (half, n)]):
        ids = pa.array(np.char.zfill(np.arange(lo, hi).astype(str), id_bytes))
        picks = words[rng.integers(0, len(words), size=(hi - lo, words_per_text))]
        text = pa.array([" ".join(row) for row in picks.tolist()])
        pq.write_table(pa.table({"id": ids, "text": text}), base / f"part-{part}.parquet")
        scores = pa.table({"id": ids, "quality": rng.random(hi - lo)})
        (base.parent / "scores").mkdir(exist_ok=True)
        pq.write_table(scores, base.parent / "scores" / f"part-{part}.parquet")
    return base


def main() -> None:
    command, base = sys.argv[1], Path(sys.argv[2])
    if command == "make":
        corpus(base / "corpus", *(int(a) for a in sys.argv[3:6]))
        return
    uri, setting = base / "corpus", int(sys.argv[3])
    project = parse_project(
        {
            "corpus": {"uri": str(uri)},
            "scores": {"uri": str(base / "scores"), "columns": ["quality"]},
            "storage": {"root": str(base / "root")},
            "run": {"memory_limit_mb": setting},
            "recipes": RECIPES,
        }
    )
    published = run_project(project, say=lambda stage: print(stage, flush=True))
    assert len(published) == len(RECIPES)
    print("done", flush=True)


if __name__ == "__main__":
    main()
