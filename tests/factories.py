"""Test factories shared by every suite: corpora of real text, score tables, projects, and
runs of the real graph."""

import inspect
import json
import os
import pathlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from curation import storage
from curation.project import Project, parse_project

TINY_PROBE = {
    "preset": "demo",
    "seeds": 1,
    "overrides": {
        "token_budget": 12_000,
        "n_layer": 1,
        "d_model": 32,
        "context": 64,
        "batch_size": 4,
        "eval_points": 2,
    },
}
#: two recipes of one method (STR with 2 and 3 sections), a probed anchor, and SAW
RECIPES = [
    {"name": "random", "method": "random", "probe": True},
    {"name": "str2", "method": "str", "params": {"num_sections": 2}, "probe": True},
    {"name": "str3", "method": "str", "params": {"num_sections": 3}},
    {"name": "saw", "method": "saw", "params": {"window_fraction": 0.1}},
]


def real_texts(n: int) -> list[str]:
    """Docstrings of the standard library: real English prose, available offline everywhere."""
    import collections
    import email
    import json as json_mod
    import logging
    import os
    import pathlib as pathlib_mod
    import shutil
    import subprocess
    import textwrap

    texts: list[str] = []
    for module in (
        os,
        shutil,
        subprocess,
        logging,
        collections,
        json_mod,
        pathlib_mod,
        textwrap,
        email,
    ):
        for _, obj in sorted(vars(module).items()):
            doc = inspect.getdoc(obj)
            if doc and len(doc) > 200 and doc not in texts:
                texts.append(doc)
    if len(texts) < n:
        raise RuntimeError(f"only {len(texts)} docstrings available, need {n}")
    return texts[:n]


def make_corpus(directory: pathlib.Path, n: int = 60) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    texts = real_texts(n)
    table = pa.table(
        {"id": [f"doc-{i:04d}" for i in range(n)], "text": texts, "source": ["stdlib"] * n}
    )
    path = directory / "corpus.parquet"
    pq.write_table(table, path)
    return str(path)


def write_scores(path: pathlib.Path, ids: list[str], values: list) -> str:
    pq.write_table(pa.table({"id": ids, "quality": pa.array(values, pa.float64())}), path)
    return str(path)


def scored_corpus(base: pathlib.Path, n: int = 60, step: int = 37) -> tuple[str, list, str]:
    """A test corpus of ``n`` real texts and a ``quality`` score table over its ids (scores
    ``(i * step) % (n + 1)``: many distinct values, a few repeats); (corpus, ids, scores)."""
    corpus = make_corpus(base / "corpus", n=n)
    ids = pq.read_table(corpus, columns=["id"]).column("id").to_pylist()
    scores = write_scores(
        base / "scores.parquet", ids, [float((i * step) % (n + 1)) for i in range(n)]
    )
    return corpus, ids, scores


def make_project(
    base: pathlib.Path,
    corpus: str,
    scores: str | None = None,
    recipes: list[dict] | None = None,
    **sections,
) -> Project:
    """A validated project over a test corpus; probes tiny, shards small."""
    raw = {
        "corpus": {"uri": corpus},
        "scores": {"uri": scores, "columns": ["quality"]} if scores else {},
        "storage": {"root": str(base), "dataset_prefix": "test"},
        "run": {"rows_per_shard": 16},
        "probe": TINY_PROBE,
        "recipes": recipes or RECIPES,
        **sections,
    }
    return parse_project(raw, source="test project")


def write_project_file(path: pathlib.Path, project: Project) -> str:
    """The project as a curation.yaml the sensor and the CLI read."""
    path.write_text(yaml.safe_dump(project.model_dump(mode="json"), sort_keys=False))
    return str(path)


def published_versions(root: str) -> dict[str, list[str]]:
    """dataset -> committed versions (those with a manifest) under <root>/published."""
    base = pathlib.Path(root) / "published"
    found: dict[str, list[str]] = {}
    if not base.exists():
        return found
    for dataset in sorted(p for p in base.iterdir() if p.is_dir()):
        versions = sorted(v.name for v in dataset.iterdir() if (v / "manifest.json").exists())
        if versions:
            found[dataset.name] = versions
    return found


def manifest(root: str, dataset: str, version: str) -> dict:
    return json.loads(
        (pathlib.Path(root) / "published" / dataset / version / "manifest.json").read_text()
    )


# ---------------------------------------------------------------- synthetic corpora and scores


def corpus_table(n: int, seed: int = 0, doc_bytes: int = 200) -> pa.Table:
    """n documents with unique string ids and varied text (sizes differ so orders differ)."""
    rng = np.random.default_rng(seed)
    words = np.array(["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"])
    lengths = rng.integers(doc_bytes // 12, doc_bytes // 4, size=n)
    picks = rng.integers(0, len(words), size=int(lengths.sum()))
    ends = np.cumsum(lengths)
    texts = [
        " ".join(words[picks[e - k : e]])
        for e, k in zip(ends.tolist(), lengths.tolist(), strict=True)
    ]
    return pa.table({"id": [f"doc-{i:06d}" for i in range(n)], "text": texts})


def write_corpus(path: Path, n: int, seed: int = 0, files: int = 1, doc_bytes: int = 200) -> str:
    """A parquet corpus (one file, or a directory of ``files`` files); returns its path."""
    table = corpus_table(n, seed, doc_bytes)
    if files == 1:
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path, row_group_size=max(1, n // 4))
        return str(path)
    path.mkdir(parents=True, exist_ok=True)
    cuts = np.linspace(0, n, files + 1).astype(int)
    for i in range(files):
        part = table.slice(int(cuts[i]), int(cuts[i + 1] - cuts[i]))
        pq.write_table(part, path / f"corpus-{i:03d}.parquet", row_group_size=1000)
    return str(path)


def score_table(ids: list, seed: int = 0) -> pa.Table:
    """Seeded random ``quality`` scores for ``ids``."""
    rng = np.random.default_rng(seed + 1)
    return pa.table({"id": ids, "quality": rng.random(len(ids))})


def write_random_scores(path: Path, ids: list, seed: int = 0) -> str:
    """A parquet score table of seeded random ``quality`` values for ``ids``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(score_table(ids, seed), path)
    return str(path)


# ---------------------------------------------------------------- published versions

LINEAGE = {
    "corpus_version": "corpus-1",
    "score_version": "scores-1",
    "method": "str",
    "params": {"num_sections": 2, "folding_ratio": 0.225},
    "seed": 42,
    "code_version": "test",
}


def ordered_table(start: int, stop: int, seed: int = 0) -> pa.Table:
    """Rows in published order: position = global row index, ids that are not positions."""
    pos = np.arange(start, stop, dtype=np.int64)
    rng = np.random.default_rng(seed + start)
    return pa.table(
        {
            "id": pa.array([f"doc-{(p * 7919) % 100003}" for p in pos.tolist()]),
            "text": pa.array([f"text of row {p}" for p in pos.tolist()]),
            "_curation_position": pa.array(pos),
            "_curation_score": pa.array(rng.random(len(pos))),
        }
    )


def write_shards(
    directory: str, n: int, shards: int = 3, row_group: int = 7, seed: int = 0
) -> list[str]:
    """Write n ordered rows as ``shards`` parquet files (uneven sizes) under a local dir or s3."""
    base = storage.resolve(directory)
    cuts = np.linspace(0, n, shards + 1).astype(int)
    uris = []
    for i in range(shards):
        loc = base.join(f"in-{i}.parquet")
        if not loc.is_s3:
            os.makedirs(base.path, exist_ok=True)
        table = ordered_table(int(cuts[i]), int(cuts[i + 1]), seed)
        pq.write_table(table, loc.path, filesystem=loc.fs, row_group_size=row_group)
        uris.append(loc.uri)
    return uris
