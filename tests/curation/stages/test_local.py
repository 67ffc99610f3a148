"""The local runner: every stage in order without an orchestrator, the same version ids as
the Dagster graph, blocking checks that stop it before anything is published."""

import pytest
from dagster import instance_for_test

from curation.publish import verify_version
from curation.stages.local import CheckFailed, run_project, run_recipe
from tests.factories import RECIPES, make_project, published_versions, scored_corpus, write_scores
from tests.graph import run_graph


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    base = tmp_path_factory.mktemp("local")
    corpus, ids, scores = scored_corpus(base)
    return base, corpus, ids, scores


def test_every_recipe_publishes_the_graphs_version_id(inputs):
    base, corpus, _, scores = inputs
    local = make_project(base / "local", corpus, scores)
    graph = make_project(base / "graph", corpus, scores)
    phases = []
    versions = run_project(local, say=phases.append)
    assert phases[:2] == ["corpus", "scores"] and phases.count("publish") == len(RECIPES)
    with instance_for_test() as instance:
        assert run_graph(instance, graph).success
    for name, ref in versions.items():
        dataset = graph.dataset_name(name)
        assert published_versions(graph.storage.root)[dataset] == [ref.version], name
        assert verify_version(local.path("published"), dataset) == []


def test_an_unchanged_recipe_republishes_its_version(inputs):
    base, corpus, _, scores = inputs
    project = make_project(base / "again", corpus, scores)
    name = project.recipe_names[0]
    first = run_recipe(project, name)
    second = run_recipe(project, name)
    assert first.moved_latest and not second.moved_latest
    assert first.version == second.version


def test_failed_coverage_publishes_nothing(inputs):
    base, corpus, ids, _ = inputs
    partial = write_scores(base / "partial.parquet", ids[:-3], [1.0] * (len(ids) - 3))
    project = make_project(base / "blocked", corpus, partial)
    with pytest.raises(CheckFailed, match="score_coverage"):
        run_recipe(project, project.recipe_names[0])
    assert published_versions(project.storage.root) == {}


@pytest.mark.parametrize("method", ["sorted", "str", "saw"])
def test_equal_scores_pass_the_ordering_check(inputs, method):
    """Every score the same: every order is sorted; the shape bounds do not apply."""
    base, corpus, ids, _ = inputs
    flat = write_scores(base / f"flat-{method}.parquet", ids, [3.0] * len(ids))
    project = make_project(
        base / f"flat-{method}", corpus, flat, recipes=[{"name": "r", "method": method}]
    )
    assert run_recipe(project, "r").rows == len(ids)
