"""Each asset invoked alone with ``build_asset_context``: its ref and its metadata."""

import pyarrow.parquet as pq
import pytest
from dagster import build_asset_context

from assets.corpus import build_corpus_asset
from assets.orderings import build_ordering_assets, orderings_config
from assets.resources import ProjectResource
from assets.scores import build_scores_assets
from curation.refs import CorpusRef, OrderingRef, ScoresRef
from tests.factories import make_corpus, make_project, write_scores


@pytest.fixture
def staged(tmp_path):
    corpus = make_corpus(tmp_path / "corpus", n=40)
    ids = pq.read_table(corpus, columns=["id"]).column("id").to_pylist()
    scores = write_scores(tmp_path / "scores.parquet", ids, [float(i % 9) for i in range(40)])
    project = make_project(tmp_path / "root", corpus, scores)
    resource = ProjectResource.inline(project)
    corpus_out = build_corpus_asset(project)(build_asset_context(), project=resource)
    sample_scores, _ = build_scores_assets(project)
    scores_out = sample_scores(build_asset_context(), project=resource, raw_corpus=corpus_out.value)
    return {"project": project, "resource": resource, "corpus": corpus_out, "scores": scores_out}


def test_raw_corpus_returns_a_versioned_ref(staged):
    out = staged["corpus"]
    assert isinstance(out.value, CorpusRef) and out.value.rows == 40
    assert out.data_version.value == out.value.version
    assert out.metadata["dagster/row_count"].value == 40


def test_sample_scores_stores_the_driving_column(staged):
    ref = staged["scores"].value
    assert isinstance(ref, ScoresRef) and ref.rows == 40
    assert ref.read_table().num_rows == 40 and ref.corpus_version == staged["corpus"].value.version


def test_orderings_for_one_partition(staged):
    orderings, _ = build_ordering_assets(staged["project"])
    out = orderings(
        build_asset_context(partition_key="str3"),
        config=orderings_config(staged["project"])(),
        project=staged["resource"],
        raw_corpus=staged["corpus"].value,
        sample_scores=staged["scores"].value,
    )
    (ref,) = out.values()
    assert isinstance(ref, OrderingRef) and ref.recipe == "str3" and not ref.override
    assert ref.params["num_sections"] == 3 and sorted(ref.read_rows()) == list(range(40))


def test_launchpad_fields_show_the_recipes_values_and_the_bounds(staged):
    from dagster import Failure

    from assets.orderings import launchpad_overrides

    config = orderings_config(staged["project"])
    field = config.model_fields["str"].annotation.__args__[0].model_fields["folding_layer"]
    assert "an integer >= 1" in field.description
    assert "str2 = 3" in field.description and "str3 = 3" in field.description
    bad = config(str={"folding_layer": 0})
    with pytest.raises(Failure) as refused:
        launchpad_overrides(bad, ["str"])
    assert refused.value.description == (
        "launchpad override refused: orderings.config.str: folding_layer must be >= 1, got 0"
    )
    assert launchpad_overrides(config(str={"folding_layer": 4}), ["str"]) == {
        "str": {"folding_layer": 4}
    }
