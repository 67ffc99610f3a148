"""The Ray engine against the local one: the same scores, shard bytes and version ids."""

import hashlib
import os
import subprocess
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dagster import instance_for_test

from curation.corpus.staging import StagingError, stage_corpus
from curation.engines.ray_staging import map_on_ray
from curation.machine import descendants
from curation.project import parse_project
from curation.publish import resolve_version
from curation.stages.local import run_project
from tests.curation.corpus.test_staging import dolma_rows, jsonl_dir
from tests.factories import corpus_table, make_project, manifest, write_corpus
from tests.graph import run_graph

pytestmark = pytest.mark.ray

STAGES = ["raw_corpus", "sample_scores", "orderings", "shards", "published"]
RECIPES = [
    {"name": "random", "method": "random"},
    {"name": "str2", "method": "str", "params": {"num_sections": 2}},
    {"name": "saw", "method": "saw", "params": {"window_fraction": 0.1}},
    # a selection: both engines write exactly the kept half (rows at position -1 dropped)
    {
        "name": "saw-top",
        "method": "saw",
        "params": {"window_fraction": 0.1},
        "select": {"top_fraction": 0.5},
    },
]


def test_local_ray_listens_on_loopback_only(ray_local):
    """Every socket the local Ray (all processes this test process started) listens on is
    bound to loopback."""
    assert ray_local.started and ray_local.address.startswith("127.0.0.1:")
    try:
        listing = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True)
    except (FileNotFoundError, subprocess.CalledProcessError):
        pytest.skip("ss (iproute2) is not available")
    ours = set(descendants(os.getpid()))
    mine = [
        line.split()[3]
        for line in listing.stdout.splitlines()
        if any(f"pid={p}," in line for p in ours)
    ]
    assert len(mine) >= 3, listing.stdout  # GCS, raylet, workers: the check is not vacuous
    host = [addr.rsplit(":", 1)[0] for addr in mine]
    assert set(host) <= {"127.0.0.1", "[::ffff:127.0.0.1]", "[::1]"}, mine


def _int_id_corpus(path, n: int, files: int) -> str:
    table = corpus_table(n, seed=3)
    table = table.set_column(0, "id", pa.array(np.arange(n, dtype=np.int64) * 7 + 1000))
    path.mkdir(parents=True, exist_ok=True)
    cuts = np.linspace(0, n, files + 1).astype(int)
    for i in range(files):
        part = table.slice(int(cuts[i]), int(cuts[i + 1] - cuts[i]))
        pq.write_table(part, path / f"part-{i}.parquet", row_group_size=97)
    return str(path)


CORPORA = {
    # string ids, 3 files, built-in scorers (scored on Ray too), many small shards; run by
    # the library's own runner (no orchestrator)
    "string-ids-builtin": dict(n=1500, files=3, scorers=["length", "compression"], rps=70),
    # the same through the local engine's spill files instead of Ray's object store
    "string-ids-spill": dict(n=900, files=2, scorers=["length"], rps=40, shuffle="spill"),
    # int ids, 4 files of odd row groups, one imported score column; run by the Dagster graph
    "int-ids-imported": dict(n=1200, files=4, scorers=None, rps=101),
}


def _run(tmp_path, name: str, spec: dict, engine: str) -> dict:
    base = tmp_path / name
    if spec["scorers"]:
        corpus = write_corpus(base / "corpus", spec["n"], seed=5, files=spec["files"])
        scores = None
        extra = {"scorers": spec["scorers"]}
        if len(spec["scorers"]) > 1:
            extra["weights"] = [1.0] * len(spec["scorers"])
    else:
        corpus = _int_id_corpus(base / "corpus", spec["n"], spec["files"])
        ids = pq.read_table(corpus, columns=["id"]).column("id")
        rng = np.random.default_rng(1)
        scores = str(base / "scores.parquet")
        pq.write_table(pa.table({"id": ids, "quality": rng.random(len(ids))}), scores)
        extra = {}
    project = make_project(
        base / engine,
        corpus,
        scores,
        recipes=RECIPES,
        run={"rows_per_shard": spec["rps"], "engine": engine, "memory_limit_mb": 256},
        ray={"shuffle": spec.get("shuffle", "objects")},
    )
    if extra:  # built-in scorers instead of an imported column
        spec_scores = project.scores.model_copy(update={"uri": None, "columns": [], **extra})
        project = project.model_copy(update={"scores": spec_scores})
    if spec["scorers"]:
        run_project(project, say=lambda stage: None)
    else:
        with instance_for_test() as instance:
            result = run_graph(instance, project, selection=STAGES)
            assert result.success, [e.message for e in result.all_events if e.is_failure]
    root = project.path("published")
    out = {}
    for recipe in project.recipes:
        dataset = project.dataset_name(recipe.name)
        version = resolve_version(root, dataset)
        out[recipe.name] = (version, manifest(str(base / engine), dataset, version))
    return out


@pytest.mark.parametrize("name", sorted(CORPORA))
def test_ray_engine_publishes_the_local_versions(ray_local, tmp_path, name):
    local = _run(tmp_path, name, CORPORA[name], "local")
    on_ray = _run(tmp_path, name, CORPORA[name], "ray")
    for recipe, (version, local_manifest) in local.items():
        ray_version, ray_manifest = on_ray[recipe]
        assert ray_version == version, recipe
        assert [s["sha256"] for s in ray_manifest["shards"]] == [
            s["sha256"] for s in local_manifest["shards"]
        ]
        assert len(local_manifest["shards"]) > 3
        assert local_manifest["extra"]["engine"] == "local"
        if recipe == "saw-top":
            assert local_manifest["num_rows"] == CORPORA[name]["n"] // 2
        assert ray_manifest["extra"]["engine"] == "ray"


# ---------------------------------------------------------------- staging on Ray
# (in this module so that one test worker holds the session's only local Ray)


def staging_project(tmp_path, corpus: str):
    return parse_project(
        {
            "corpus": {"uri": corpus},
            "storage": {"root": str(tmp_path / "root")},
            "run": {"engine": "ray"},
            "recipes": [{"name": "r", "method": "random"}],
        }
    )


def parquet_digests(uri: str) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in Path(uri).glob("*.parquet")}


def test_ray_tasks_stage_the_same_bytes_as_threads(tmp_path, ray_local):
    source = jsonl_dir(tmp_path / "src", dolma_rows(200), "zstd", files=4)
    local = stage_corpus(source, str(tmp_path / "local"), log=lambda m: None)
    messages: list[str] = []
    on_ray = stage_corpus(
        source,
        str(tmp_path / "ray"),
        log=messages.append,
        map_files=map_on_ray(staging_project(tmp_path, source)),
    )
    assert on_ray.key == local.key and not on_ray.reused
    assert (
        parquet_digests(on_ray.uri) == parquet_digests(local.uri)
        and len(parquet_digests(local.uri)) == 4
    )
    assert any("as Ray tasks" in m for m in messages)


def test_a_broken_record_on_ray_names_file_and_line(tmp_path, ray_local):
    source = jsonl_dir(tmp_path / "src", dolma_rows(20), None, files=2)
    path = Path(source) / "part-001.jsonl"
    lines = path.read_text().splitlines()
    lines[2] = '{"id": "x", "text": '
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(StagingError, match=r"part-001\.jsonl: line 3 is not valid JSON"):
        stage_corpus(
            source,
            str(tmp_path / "root"),
            log=lambda m: None,
            map_files=map_on_ray(staging_project(tmp_path, source)),
        )


def test_the_corpus_stage_stages_on_ray_when_the_engine_is_ray(tmp_path, ray_local):
    from curation.stages.corpus import build_corpus

    source = jsonl_dir(tmp_path / "src", dolma_rows(30), "gzip", files=2)
    ref = build_corpus(staging_project(tmp_path, source))
    local = stage_corpus(source, str(tmp_path / "local"), log=lambda m: None)
    assert ref.staged == "converted" and ref.rows == 30
    assert Path(ref.uri).name == local.key and parquet_digests(ref.uri) == parquet_digests(
        local.uri
    )
