"""exports: opt-in per recipe, written from the published version, in its order."""

import json
import os

import pytest
from dagster import instance_for_test

from curation.project import RecipeError, parse_project
from curation.publish import resolve_version
from curation.reader import OrderedDataset, PackedDataset
from curation.reader.export.tokens import TokenStore
from tests.factories import make_project, scored_corpus
from tests.graph import run_graph

RECIPES = [
    {
        "name": "sorted",
        "method": "sorted",
        "exports": [
            {"format": "tokens"},
            {"format": "megatron"},
            {"format": "hf", "seq_len": 32, "tail": "pad"},
        ],
    },
    {"name": "random", "method": "random"},
]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    base = tmp_path_factory.mktemp("exports")
    corpus, _, scores = scored_corpus(base, n=40, step=7)
    project = make_project(base / "root", corpus, scores, recipes=RECIPES)
    with instance_for_test() as instance:
        result = run_graph(instance, project)
        yield {"project": project, "result": result}


def test_exports_follow_the_published_order(run):
    project, result = run["project"], run["result"]
    assert result.success
    dataset = project.dataset_name("sorted")
    version = resolve_version(project.path("published"), dataset)
    (event,) = [
        m
        for m in result.get_asset_materialization_events()
        if m.asset_key.to_user_string() == "exports" and m.partition == "sorted"
    ]
    exports = [r.data for r in event.materialization.metadata["exports"].value.records]
    assert [e["format"] for e in exports] == ["tokens", "megatron", "hf"]
    assert event.materialization.metadata["formats"].value == "tokens, megatron, hf"
    tokens = exports[0]["uri"]
    assert tokens.startswith(project.path("exports", dataset, version))
    store = TokenStore(tokens)
    assert store.source["version"] == version and store.tokenizer["spec"] == "bytes"
    published = OrderedDataset(f"{project.path('published')}/{dataset}", version=version)
    texts = [
        t
        for b in OrderedDataset(published.uri, batch_size=64, columns=["text"])
        for t in b["text"].to_pylist()
    ]
    expected = [t for text in texts for t in [*text.encode(), 256]]
    assert store.read(0, store.num_tokens).tolist() == expected
    packed = [
        t for b in PackedDataset(tokens, seq_len=16) for t in b["input_ids"].flatten().tolist()
    ]
    assert packed == expected[: len(packed)]
    assert os.path.exists(exports[1]["uri"] + ".bin") and os.path.exists(exports[1]["uri"] + ".idx")
    info = json.load(open(os.path.join(exports[2]["uri"], "dataset_info.json")))
    assert json.loads(info["description"])["source"]["version"] == version


def test_recipes_without_exports_are_not_materialized(run):
    result = run["result"]
    partitions = [
        m.partition
        for m in result.get_asset_materialization_events()
        if m.asset_key.to_user_string() == "exports"
    ]
    assert partitions == ["sorted"]  # the only recipe listing exports


def test_bad_export_spec_is_named():
    raw = {"recipes": [{"name": "a", "method": "random", "exports": [{"format": "zip"}]}]}
    with pytest.raises(RecipeError, match=r"exports\[0\].format"):
        parse_project(raw)
    raw["recipes"][0]["exports"] = [{"format": "mds", "tokenizer": "sentencepiece:/x"}]
    with pytest.raises(RecipeError, match="unknown tokenizer"):
        parse_project(raw)
