"""The real Dagster graph end to end: recipes drive every run, blocked publishing, reuse."""

import pytest
from dagster import AssetKey, instance_for_test

from curation.publish import resolve_version, verify_version
from tests.factories import (
    RECIPES,
    make_project,
    manifest,
    published_versions,
    scored_corpus,
    write_scores,
)
from tests.graph import run_graph


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    base = tmp_path_factory.mktemp("pipeline")
    corpus, ids, scores = scored_corpus(base)
    return {"base": base, "corpus": corpus, "ids": ids, "scores": scores}


def project_for(workspace, root_name: str, scores: str | None = None, recipes=None):
    return make_project(
        workspace["base"] / root_name,
        workspace["corpus"],
        scores or workspace["scores"],
        recipes=recipes,
    )


def latest(project, recipe: str) -> str:
    return resolve_version(project.path("published"), project.dataset_name(recipe))


def metadata_by_partition(result, asset: str) -> dict:
    return {
        m.partition: m.materialization.metadata
        for m in result.get_asset_materialization_events()
        if m.asset_key.to_user_string() == asset
    }


@pytest.fixture(scope="module")
def happy(workspace):
    with instance_for_test() as instance:
        project = project_for(workspace, "happy")
        first = run_graph(instance, project)
        before = {r.name: latest(project, r.name) for r in project.recipes}
        second = run_graph(instance, project)
        yield {
            "instance": instance,
            "project": project,
            "first": first,
            "second": second,
            "latest_after_first": before,
        }


def test_every_recipe_publishes_a_dataset_named_after_it(happy):
    assert happy["first"].success
    project = happy["project"]
    versions = published_versions(project.storage.root)
    assert sorted(versions) == sorted(f"test-{r['name']}" for r in RECIPES)
    for dataset, (version,) in versions.items():
        assert verify_version(project.path("published"), dataset, version) == []
        m = manifest(project.storage.root, dataset, version)
        assert m["num_rows"] == 60
        assert all(c["passed"] for c in m["checks"].values())


def test_two_recipes_of_one_method_are_two_datasets_with_their_own_params(happy):
    project = happy["project"]
    root = project.storage.root
    str2 = manifest(root, "test-str2", latest(project, "str2"))
    str3 = manifest(root, "test-str3", latest(project, "str3"))
    assert str2["lineage"]["method"] == str3["lineage"]["method"] == "str"
    assert str2["lineage"]["params"]["num_sections"] == 2
    assert str3["lineage"]["params"]["num_sections"] == 3
    saw = manifest(root, "test-saw", latest(project, "saw"))
    assert saw["lineage"]["params"]["window_size"] == 6  # window_fraction 0.1 of 60 documents


def test_checks_ran_per_recipe_and_metadata_is_native(happy):
    result = happy["first"]
    evaluations = list(result.get_asset_check_evaluations())
    names = {(e.asset_key.to_user_string(), e.check_name) for e in evaluations}
    assert names == {
        ("sample_scores", "score_coverage"),
        ("orderings", "ordering_invariants"),
        ("shards", "shard_integrity"),
    }
    assert all(e.passed for e in evaluations)
    recipes = {r["name"] for r in RECIPES}
    for check in ("ordering_invariants", "shard_integrity"):  # one verdict per recipe
        per_recipe = [e for e in evaluations if e.check_name == check]
        assert sorted(e.partition for e in per_recipe) == sorted(recipes)
        for evaluation in per_recipe:
            assert evaluation.target_materialization_data is not None
            assert "by_recipe" not in evaluation.metadata
            table = evaluation.metadata["expectations"].value
            assert table.records and all(r.data["passed"] for r in table.records)
    ordering = metadata_by_partition(result, "orderings")
    assert set(ordering) == {r["name"] for r in RECIPES}
    assert {"score_curve", "metric_cliffs", "params", "dagster/row_count"} <= set(ordering["str3"])
    for asset in ("shards", "published"):
        for meta in metadata_by_partition(result, asset).values():
            assert meta["dagster/row_count"].value == 60
            assert [c.name for c in meta["dagster/column_schema"].schema.columns][:2] == [
                "id",
                "text",
            ]
    published = metadata_by_partition(result, "published")["str2"]
    assert published["params"].value["num_sections"] == 2
    assert published["version"].value == latest(happy["project"], "str2")
    assert published["recipe"].value == "str2"
    report = metadata_by_partition(result, "probe_report")[None]
    rows = [r.data for r in report["summary"].value.records]
    assert rows[0]["recipe"] == "random" and rows[0]["vs random (95% CI)"] == "baseline"
    assert not any("nan" in str(v) for row in rows for v in row.values()), rows
    assert isinstance(report["str2/loss_vs_random"].value, float)  # charted in Plots
    probes = metadata_by_partition(result, "probe_runs")
    assert probes["str3"]["status"].value.startswith("skipped: not probed")
    assert {"report", "summary"} <= set(report) and "data:image/png;base64," in report[
        "plot_final_bpb"
    ].value


def test_definitions_carry_kinds_owners_and_code_versions(happy):
    from assets.location import build_definitions

    defs = build_definitions(happy["project"])
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.owners and node.code_version and node.kinds, key
    assert "pytorch" in graph.get(AssetKey("probe_runs")).kinds
    assert len(list(graph.get_all_asset_keys())) == 8  # one node per stage (exports included)


def test_rerun_with_nothing_changed_moves_no_latest(happy):
    second = happy["second"]
    assert second.success
    for name, meta in metadata_by_partition(second, "published").items():
        assert meta["latest_moved"].value is False, name
    reused = metadata_by_partition(second, "shards")
    assert all(meta["reused"].value is True for meta in reused.values())
    project = happy["project"]
    assert {r.name: latest(project, r.name) for r in project.recipes} == happy["latest_after_first"]


def test_a_changed_recipe_moves_only_its_own_latest(happy, workspace):
    instance, project = happy["instance"], happy["project"]
    before = {r.name: latest(project, r.name) for r in project.recipes}
    recipes = [dict(r) for r in RECIPES]
    recipes[2] = {**recipes[2], "params": {"num_sections": 3, "folding_layer": 2}}
    changed = project_for(workspace, "happy", recipes=recipes)
    result = run_graph(instance, changed)
    assert result.success
    after = {r.name: latest(changed, r.name) for r in changed.recipes}
    assert after["str3"] != before["str3"]
    assert {k: v for k, v in after.items() if k != "str3"} == {
        k: v for k, v in before.items() if k != "str3"
    }
    m = manifest(changed.storage.root, "test-str3", after["str3"])
    assert m["lineage"]["params"]["folding_layer"] == 2


def test_a_launchpad_override_never_moves_the_recipes_latest(happy):
    instance, project = happy["instance"], happy["project"]
    before = latest(project, "str2")
    result = run_graph(
        instance,
        project,
        recipes=["str2"],
        run_config={"ops": {"orderings": {"config": {"str": {"folding_layer": 4}}}}},
    )
    assert result.success
    assert latest(project, "str2") == before
    overridden = [d for d in published_versions(project.storage.root) if "--override-" in d]
    assert len(overridden) == 1 and overridden[0].startswith("test-str2--override-")
    (version,) = published_versions(project.storage.root)[overridden[0]]
    assert (
        manifest(project.storage.root, overridden[0], version)["lineage"]["params"]["folding_layer"]
        == 4
    )


def test_bad_launchpad_values_are_refused(happy):
    result = run_graph(
        happy["instance"],
        happy["project"],
        recipes=["str2"],
        run_config={"ops": {"orderings": {"config": {"str": {"folding_layer": 0}}}}},
    )
    assert not result.success
    (failure,) = result.get_step_failure_events()
    assert failure.step_key == "orderings"
    error = failure.step_failure_data.error
    assert error.cls_name == "Failure"
    assert error.message.strip().endswith(
        "launchpad override refused: orderings.config.str: folding_layer must be >= 1, got 0"
    )


def corrupted_scores(workspace) -> str:
    ids = list(workspace["ids"])
    values = [float(i) for i in range(60)]
    values[3] = float("nan")
    ids[7] = "not-in-corpus"
    return write_scores(workspace["base"] / "corrupt.parquet", ids, values)


def test_corrupted_scores_fail_the_blocking_check_and_publish_nothing(workspace):
    project = project_for(workspace, "corrupt", scores=corrupted_scores(workspace))
    with instance_for_test() as instance:
        result = run_graph(instance, project)
        assert not result.success
        (coverage,) = list(result.get_asset_check_evaluations())
        assert not coverage.passed
        assert "not-in-corpus" in coverage.description and "doc-0003" in coverage.description
        materialized = {
            m.asset_key.to_user_string() for m in result.get_asset_materialization_events()
        }
        assert materialized == {"raw_corpus", "sample_scores"}
    assert published_versions(project.storage.root) == {}


def test_publish_in_a_separate_run_refuses_after_a_failed_check(happy, workspace):
    """Blocking acts within one run; publishing must also read the verdicts it relies on.

    Scores go bad in one run; a later run that publishes alone must refuse.
    """
    instance, good = happy["instance"], happy["project"]
    bad = project_for(workspace, "happy", scores=corrupted_scores(workspace))
    scored = run_graph(instance, bad, selection=["sample_scores"])
    (coverage,) = list(scored.get_asset_check_evaluations())
    assert not coverage.passed
    before = published_versions(good.storage.root)["test-str2"]
    result = run_graph(instance, good, recipes=["str2"], selection=["published"])
    assert not result.success
    error = result.get_step_failure_events()[0].step_failure_data.error
    assert "refused to publish" in error.message
    assert "sample_scores:score_coverage" in error.message
    assert published_versions(good.storage.root)["test-str2"] == before
