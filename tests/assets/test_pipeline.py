"""The real Dagster graph end to end: happy path, blocked publishing, sensor, reuse on rerun."""

import json

import pyarrow.parquet as pq
import pytest
from dagster import AssetKey, RunRequest, SkipReason, build_sensor_context, instance_for_test

from assets.automation import score_change_sensor
from assets.resources import CurationSettings
from curation.ordering import METHODS
from curation.publish import verify_version
from tests.assets.pipeline import make_corpus, manifest, published_versions, run_graph, write_scores


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    base = tmp_path_factory.mktemp("pipeline")
    corpus = make_corpus(base / "corpus", n=60)
    ids = pq.read_table(corpus, columns=["id"]).column("id").to_pylist()
    scores = write_scores(base / "scores.parquet", ids, [float((i * 37) % 61) for i in range(60)])
    return {"base": base, "corpus": corpus, "ids": ids, "scores": scores}


def settings_for(workspace, root_name: str, scores: str | None = None) -> CurationSettings:
    return CurationSettings(
        root=str(workspace["base"] / root_name),
        corpus_uri=workspace["corpus"],
        scores_uri=scores or workspace["scores"],
        score_columns=["quality"],
        dataset="test",
        rows_per_shard=16,
    )


@pytest.fixture(scope="module")
def happy(workspace):
    with instance_for_test() as instance:
        settings = settings_for(workspace, "happy")
        first = run_graph(instance, settings)
        second = run_graph(instance, settings)
        yield {"instance": instance, "settings": settings, "first": first, "second": second}


def test_happy_path_publishes_every_method(happy):
    assert happy["first"].success
    root = happy["settings"].root
    versions = published_versions(root)
    assert sorted(versions) == sorted(f"test-{m}" for m in METHODS)
    for dataset, (version,) in versions.items():
        assert verify_version(f"{root}/published", dataset, version) == []
        m = manifest(root, dataset, version)
        assert m["num_rows"] == 60 if "num_rows" in m else True
        assert all(c["passed"] for c in m["checks"].values())


def test_checks_ran_and_passed_with_metadata(happy):
    result = happy["first"]
    evaluations = list(result.get_asset_check_evaluations())
    names = {(e.asset_key.to_user_string(), e.check_name) for e in evaluations}
    assert ("sample_scores", "score_coverage") in names
    assert {("ordering_saw", "ordering_invariants"), ("shards_str", "shard_integrity")} <= names
    assert all(e.passed for e in evaluations)
    mats = {m.asset_key.to_user_string(): m for m in result.get_asset_materialization_events()}
    meta = mats["ordering_saw"].materialization.metadata
    assert {"score_curve", "metric_cliffs", "params", "score_version"} <= set(meta)
    assert "report" in mats["probe_report"].materialization.metadata


def test_rerun_reuses_unchanged_work_and_version(happy):
    second = happy["second"]
    assert second.success
    mats = {
        m.asset_key.to_user_string(): m.materialization.metadata
        for m in second.get_asset_materialization_events()
    }
    assert mats["ordering_str"]["reused"].value is True
    assert mats["shards_str"]["reused"].value is True
    assert mats["probe_runs"]["reused"].value is True
    first = {
        m.asset_key.to_user_string(): m.materialization.metadata
        for m in happy["first"].get_asset_materialization_events()
    }
    assert first["published_str"]["version"].value == mats["published_str"]["version"].value
    assert len(published_versions(happy["settings"].root)["test-str"]) == 1


def corrupted_scores(workspace) -> str:
    ids = list(workspace["ids"])
    values = [float(i) for i in range(60)]
    values[3] = float("nan")
    ids[7] = "not-in-corpus"
    return write_scores(workspace["base"] / "corrupt.parquet", ids, values)


def test_corrupted_scores_fail_the_blocking_check_and_publish_nothing(workspace):
    settings = settings_for(workspace, "corrupt", scores=corrupted_scores(workspace))
    with instance_for_test() as instance:
        result = run_graph(instance, settings)
        assert not result.success
        (coverage,) = list(result.get_asset_check_evaluations())
        assert not coverage.passed
        assert "not-in-corpus" in coverage.description and "doc-0003" in coverage.description
        materialized = {
            m.asset_key.to_user_string() for m in result.get_asset_materialization_events()
        }
        assert materialized == {"raw_corpus", "sample_scores"}
    assert published_versions(settings.root) == {}


def test_sensor_requests_a_run_only_when_the_scores_change(workspace, tmp_path):
    path = tmp_path / "scores.parquet"
    path.write_bytes(open(workspace["scores"], "rb").read())
    settings = settings_for(workspace, "sensor", scores=str(path))
    with instance_for_test() as instance:
        ctx = build_sensor_context(instance=instance, resources={"settings": settings})
        first = score_change_sensor(ctx)
        assert isinstance(first, RunRequest) and first.run_key.startswith("scores-")
        cursor = ctx.cursor
        again = score_change_sensor(
            build_sensor_context(instance=instance, cursor=cursor, resources={"settings": settings})
        )
        assert isinstance(again, SkipReason)
        write_scores(path, workspace["ids"], [1.0] * 60)
        changed_ctx = build_sensor_context(
            instance=instance, cursor=cursor, resources={"settings": settings}
        )
        changed = score_change_sensor(changed_ctx)
        assert isinstance(changed, RunRequest) and changed.run_key != first.run_key
        assert json.loads(changed_ctx.cursor)["hash"] in changed.run_key


def test_definitions_load_with_sensor_and_schedule_running():
    from definitions import defs

    assert defs.resolve_sensor_def("score_change_sensor").default_status.value == "RUNNING"
    assert defs.resolve_schedule_def("nightly_refresh").default_status.value == "RUNNING"
    keys = defs.resolve_all_asset_keys()
    assert AssetKey("published_saw") in keys and AssetKey("probe_report") in keys


def test_publish_in_a_separate_run_refuses_after_a_failed_check(happy, workspace):
    """Blocking acts within one run; the publish asset must also read the latest verdicts.

    Runs last on the happy instance: scores go bad in one run, publishing runs alone later.
    """
    instance, good = happy["instance"], happy["settings"]
    bad = settings_for(workspace, "happy", scores=corrupted_scores(workspace))
    scored = run_graph(instance, bad, selection=["sample_scores"])
    (coverage,) = list(scored.get_asset_check_evaluations())
    assert not coverage.passed
    result = run_graph(instance, good, selection=["published_str"])
    assert not result.success
    error = result.get_step_failure_events()[0].step_failure_data.error
    assert "refusing to publish test-str" in error.message
    assert "sample_scores:score_coverage" in error.message
    assert len(published_versions(good.root)["test-str"]) == 1
