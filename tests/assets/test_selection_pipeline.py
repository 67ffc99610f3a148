"""Recipes that select before ordering, through the real Dagster graph: what is kept, in
which order, what the checks, the manifest and the probe report say, and which versions move."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dagster import instance_for_test

from curation.project import parse_project
from curation.publish import resolve_version, verify_version
from tests.curation.ordering.reference_selection import ref_select_then_order
from tests.factories import TINY_PROBE, make_corpus, manifest
from tests.graph import run_graph

N = 60
QUALITY = [float((i * 37) % 61) for i in range(N)]
EDU = [int((i * 7) % 5) for i in range(N)]  # FineWeb-Edu-like 0..4 integer scores, many ties
RECIPES = [
    {"name": "random", "method": "random", "probe": True},
    {
        "name": "saw-top",
        "method": "saw",
        "params": {"num_sections": 2, "window_fraction": 0.1},
        "select": {"top_fraction": 0.5},
        "probe": True,
    },
    {"name": "str-edu", "method": "str", "select": {"threshold": 2, "score": "edu"}},
]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    base = tmp_path_factory.mktemp("selection")
    corpus = make_corpus(base / "corpus", n=N)
    ids = pq.read_table(corpus, columns=["id"]).column("id").to_pylist()
    scores = base / "scores.parquet"
    pq.write_table(
        pa.table({"id": ids, "quality": QUALITY, "edu": pa.array(EDU, pa.int64())}), scores
    )
    return {"base": base, "corpus": corpus, "ids": ids, "scores": str(scores)}


def project_for(workspace, recipes, root=None):
    """Two raw score columns (rank-combined into the driving score), small shards, tiny probes."""
    return parse_project(
        {
            "corpus": {"uri": workspace["corpus"]},
            "scores": {"uri": workspace["scores"], "columns": ["quality", "edu"]},
            "storage": {"root": str(root or workspace["base"] / "root"), "dataset_prefix": "test"},
            "run": {"rows_per_shard": 16},
            "probe": TINY_PROBE,
            "recipes": recipes,
        },
        source="test project",
    )


def latest(project, recipe: str) -> str:
    return resolve_version(project.path("published"), project.dataset_name(recipe))


def partition_metadata(result, asset: str) -> dict:
    return {
        m.partition: m.materialization.metadata
        for m in result.get_asset_materialization_events()
        if m.asset_key.to_user_string() == asset
    }


@pytest.fixture(scope="module")
def runs(workspace):
    with instance_for_test() as instance:
        project = project_for(workspace, RECIPES)
        first = run_graph(instance, project)
        before = {r.name: latest(project, r.name) for r in project.recipes}
        second = run_graph(instance, project)
        after_rerun = {r.name: latest(project, r.name) for r in project.recipes}
        yield {
            "instance": instance,
            "project": project,
            "first": first,
            "second": second,
            "before": before,
            "after_rerun": after_rerun,
        }


def driving_score(project, workspace) -> np.ndarray:
    """The rank-normalised combination the pipeline orders by, in corpus row order."""
    from curation.scores.combine import combine_scores

    table = pa.table({"id": workspace["ids"], "quality": QUALITY, "edu": EDU})
    combined, _ = combine_scores(table, ["quality", "edu"], normalize="rank")
    return np.asarray(combined, dtype=np.float64)


def test_selected_recipes_publish_exactly_the_reference_rows_in_its_order(runs, workspace):
    assert runs["first"].success
    project = runs["project"]
    root, ids = project.storage.root, workspace["ids"]
    driving = driving_score(project, workspace)
    expected = {
        "saw-top": ref_select_then_order(
            driving.tolist(),
            driving.tolist(),
            "top_fraction",
            0.5,
            "saw",
            ascending=True,
            num_sections=2,
            folding_ratio=0.075,
            folding_layer=2,
            window_size=3,  # window_fraction 0.1 of the 30 kept rows
            seed=42,
        ),
        "str-edu": ref_select_then_order(
            [float(e) for e in EDU],
            driving.tolist(),
            "threshold",
            2,
            "str",
            ascending=True,
            num_sections=2,
            folding_ratio=0.225,
            folding_layer=3,
            window_size=0,
            seed=42,
        ),
    }
    for name, rows in expected.items():
        version = latest(project, name)
        dataset = project.dataset_name(name)
        assert verify_version(project.path("published"), dataset, version) == []
        m = manifest(root, dataset, version)
        shard_ids = pa.concat_tables(
            pq.read_table(f"{root}/published/{dataset}/{version}/{s['name']}", columns=["id"])
            for s in m["shards"]
        ).column("id")
        assert shard_ids.to_pylist() == [ids[r] for r in rows], name
        assert m["num_rows"] == len(rows)
        assert all(c["passed"] for c in m["checks"].values())


def test_manifest_records_the_rule_score_threshold_and_counts(runs):
    project, root = runs["project"], runs["project"].storage.root
    top = manifest(root, "test-saw-top", latest(project, "saw-top"))["lineage"]
    assert top["params"]["window_size"] == 3
    sel = top["selection"]
    assert (sel["rule"], sel["value"], sel["kept"], sel["total"]) == ("top_fraction", 0.5, 30, N)
    assert sel["score_column"] == "_ordering_score" and sel["driving_columns"] == [
        "quality",
        "edu",
    ]
    edu = manifest(root, "test-str-edu", latest(project, "str-edu"))["lineage"]["selection"]
    assert (edu["rule"], edu["score_column"], edu["applied_threshold"]) == ("threshold", "edu", 2.0)
    assert edu["kept"] == sum(e > 2 for e in EDU) and edu["total"] == N
    plain = manifest(root, "test-random", latest(project, "random"))
    assert "selection" not in plain["lineage"] and plain["num_rows"] == N


def test_checks_know_the_selection(runs):
    evaluations = list(runs["first"].get_asset_check_evaluations())
    assert evaluations and all(e.passed for e in evaluations)
    ordering = next(  # one verdict per recipe: the selected recipe's own
        e for e in evaluations if e.check_name == "ordering_invariants" and e.partition == "saw-top"
    )
    text = str(ordering.metadata)
    assert "kept" in text
    meta = partition_metadata(runs["first"], "orderings")
    assert meta["saw-top"]["kept_rows"].value == 30
    assert meta["saw-top"]["total_rows"].value == N
    assert meta["str-edu"]["dagster/row_count"].value == sum(e > 2 for e in EDU)
    assert "kept_rows" not in meta["random"]
    assert partition_metadata(runs["first"], "shards")["saw-top"]["dagster/row_count"].value == 30


def test_probe_report_says_how_much_each_recipe_kept(runs):
    report = partition_metadata(runs["first"], "probe_report")[None]["report"].value
    assert "## Training data per recipe" in report
    assert (
        "| saw-top | 30 of 60 (50%) | top_fraction 0.5 on the driving score (quality, edu)"
        in report
    )
    assert "| random | all | none |" in report


def test_unchanged_recipes_republish_the_same_versions(runs):
    assert runs["second"].success
    assert runs["after_rerun"] == runs["before"]
    for name, meta in partition_metadata(runs["second"], "published").items():
        assert meta["latest_moved"].value is False, name


def test_changing_only_the_rule_moves_only_that_recipes_latest(runs, workspace):
    instance, before = runs["instance"], runs["after_rerun"]
    recipes = [dict(r) for r in RECIPES]
    recipes[1] = {**recipes[1], "select": {"top_fraction": 0.6}, "probe": False}
    recipes[0] = {**recipes[0], "probe": False}
    changed = project_for(workspace, recipes)
    result = run_graph(instance, changed)
    assert result.success
    after = {r.name: latest(changed, r.name) for r in changed.recipes}
    assert after["saw-top"] != before["saw-top"]
    assert {k: after[k] for k in ("random", "str-edu")} == {
        k: before[k] for k in ("random", "str-edu")
    }
    sel = manifest(changed.storage.root, "test-saw-top", after["saw-top"])["lineage"]["selection"]
    assert (sel["value"], sel["kept"]) == (0.6, 36)


def test_a_rule_that_keeps_nothing_stops_the_run_naming_recipe_and_key(workspace, tmp_path):
    recipes = [
        {"name": "none-left", "method": "sorted", "select": {"threshold": 9, "score": "edu"}}
    ]
    project = project_for(workspace, recipes, root=tmp_path / "root")
    with instance_for_test() as instance:
        result = run_graph(instance, project)
    assert not result.success
    failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE" and e.step_key]
    text = " ".join(e.event_specific_data.error.to_string() for e in failures)
    assert "recipe 'none-left': select.threshold: threshold 9.0 keeps nothing" in text
