"""Refs are the only thing stages hand each other: frozen, strict JSON, round-tripping
through dumps/loads with their types (nested refs, tuples, numpy scalars) intact."""

import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from curation import refs
from curation.refs import CorpusRef, OrderingRef, ScoresRef, ShardPlan, ShardRef, ShardSetRef

ORDERING = OrderingRef(
    uri="s3://b/work/orderings/k/ordering.parquet",
    recipe="str-paper",
    method="str",
    params={"num_sections": 2, "seed": 42},
    key="0123456789abcdef",
    rows=10,
    corpus_version="c" * 16,
    score_version="s" * 16,
    metrics={"cliffs": np.int64(0), "boundary_last_q": np.float64(0.9)},
    warnings=("a warning",),
)


def test_a_shard_set_round_trips_with_its_nested_refs():
    shards = ShardSetRef(
        uri="/r/work/shards/k",
        recipe="str-paper",
        shards=(
            ShardRef("/r/a.parquet", 4, 0, "a" * 64, 100),
            ShardRef("/r/b.parquet", 6, 4, "b" * 64, 150),
        ),
        ordering=ORDERING,
    )
    back = refs.loads(refs.dumps(shards))
    assert back == refs.loads(refs.dumps(back))
    assert isinstance(back.ordering, OrderingRef) and isinstance(back.shards, tuple)
    assert back.shards[1] == shards.shards[1] and back.rows == 10 and back.bytes == 250
    assert back.ordering.metrics == {"cliffs": 0, "boundary_last_q": 0.9}
    assert back.ordering.warnings == ("a warning",)


def test_a_shard_plan_round_trips_and_counts_its_units():
    plan = ShardPlan(
        recipe="r",
        out="/o",
        corpus="/c",
        rows=10,
        rows_per_shard=4,
        shards=3,
        shard_groups=2,
        file_groups=(["/c/a.parquet"], ["/c/b.parquet"]),
        memory_limit=1 << 29,
        plan_dir="/p",
        spill="/s",
        reused=False,
    )
    back = refs.loads(refs.dumps({"r": plan}))["r"]
    assert back.scatter_units == 2 and back.write_units == 2
    assert refs.loads(refs.dumps(back)).file_groups == back.file_groups


def test_dumps_is_strict_json():
    bad = ScoresRef(
        uri="/s", version="v", column="x", rows=1, source="import", combination={"w": math.nan}
    )
    with pytest.raises(ValueError):
        refs.dumps(bad)
    text = refs.dumps(CorpusRef(uri="/c", version="v", rows=3, files=1, id_type="string"))
    assert json.loads(text)["__ref__"] == "CorpusRef"


def test_refs_are_frozen():
    with pytest.raises(AttributeError):
        ORDERING.rows = 11  # type: ignore[misc]


@given(st.dictionaries(st.text(min_size=1), st.integers() | st.text() | st.booleans(), max_size=5))
def test_plain_data_around_refs_round_trips(extra):
    value = {"ref": ORDERING, "extra": extra, "list": [ORDERING, 1]}
    assert refs.loads(refs.dumps(value))["extra"] == extra
