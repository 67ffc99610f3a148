"""Helpers for pipeline tests: a small corpus of real text and a run of the real graph."""

import inspect
import json
import pathlib

import pyarrow as pa
import pyarrow.parquet as pq
from dagster import AssetSelection, DagsterInstance, Definitions, define_asset_job

from assets.resources import CurationSettings, build_resources
from definitions import build_definitions

TINY_PROBE = {
    "methods": ["random", "str"],
    "seeds": 1,
    "token_budget": 12_000,
    "n_layer": 1,
    "d_model": 32,
    "context": 64,
    "batch_size": 4,
    "eval_points": 2,
    "workers": 1,
}


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


def run_graph(
    instance: DagsterInstance, settings: CurationSettings, selection=None, probe: dict | None = None
):
    """Materialize the real definitions in-process against ``instance``.

    ``selection``: asset names to materialize together with their checks; None = everything.
    """
    defs = build_definitions(resources=build_resources(settings))
    if selection is None:
        job = defs.resolve_implicit_global_asset_job_def()
    else:
        subset = define_asset_job("subset", selection=AssetSelection.assets(*selection))
        job = Definitions.merge(defs, Definitions(jobs=[subset])).resolve_job_def("subset")
    needs_probe = selection is None or "probe_runs" in selection
    run_config = {"ops": {"probe_runs": {"config": probe or TINY_PROBE}}} if needs_probe else {}
    return job.execute_in_process(instance=instance, run_config=run_config, raise_on_error=False)


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
