"""The one IO manager: refs stored as strict JSON per asset partition (a step covering
several recipes writes one file each), op outputs per run, several partitions loaded as
{partition: ref}, missing partitions allowed only where a consumer says so."""

import json

import pytest
from dagster import (
    PartitionKeyRange,
    StaticPartitionsDefinition,
    build_input_context,
    build_output_context,
)

from assets.io import RefIOManager
from curation.refs import CorpusRef

REF = CorpusRef(uri="/c", version="v1", rows=3, files=1, id_type="string")
RECIPES = StaticPartitionsDefinition(["a", "b", "c"])
A_TO_B = {"asset_partitions_def": RECIPES, "asset_partition_key_range": PartitionKeyRange("a", "b")}


@pytest.fixture
def manager(tmp_path):
    return RefIOManager(root=str(tmp_path))


def test_each_partition_of_a_multi_partition_step_is_its_own_file(manager, tmp_path):
    out = build_output_context(asset_key=["orderings"], **A_TO_B)
    manager.handle_output(out, {"a": REF, "b": REF})
    stored = tmp_path / "dagster" / "assets" / "orderings"
    assert sorted(p.name for p in stored.iterdir()) == ["a.json", "b.json"]
    assert json.loads((stored / "a.json").read_text())["version"] == "v1"
    loaded = manager.load_input(
        build_input_context(asset_key=["orderings"], upstream_output=out, **A_TO_B)
    )
    assert loaded == {"a": REF, "b": REF}


def test_a_step_must_return_exactly_its_partitions(manager):
    out = build_output_context(asset_key=["orderings"], **A_TO_B)
    with pytest.raises(TypeError, match=r"must return \{partition: value\}"):
        manager.handle_output(out, {"a": REF})


def test_an_unpartitioned_asset_round_trips(manager):
    out = build_output_context(asset_key=["raw_corpus"])
    manager.handle_output(out, REF)
    loaded = manager.load_input(build_input_context(asset_key=["raw_corpus"], upstream_output=out))
    assert loaded == REF
