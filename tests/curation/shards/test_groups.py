"""Byte-sized shards and bounded fan-out: groups cover every shard once, in order, and a
run written group by group is byte-identical to the one-call writer."""

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curation.shards import (
    ShardError,
    ShardJob,
    corpus_layout,
    plan_file_groups,
    plan_groups,
    plan_shards,
    rows_per_shard_for,
    scatter_group,
    write_group,
    write_ordered_shards,
)
from tests.curation.shards.test_reorder import SCHEMA, make_corpus, read_out


@given(n_rows=st.integers(0, 500), per=st.integers(1, 50), max_groups=st.integers(1, 20))
def test_groups_partition_the_shards_in_order(n_rows, per, max_groups):
    specs = plan_shards(n_rows, per)
    groups = plan_groups(specs, max_groups)
    assert len(groups) <= max_groups
    assert [s for g in groups for s in g.specs] == specs
    assert [g.index for g in groups] == list(range(len(groups)))
    sizes = [len(g.specs) for g in groups]
    assert all(sizes) and (not sizes or max(sizes) - min(sizes) <= 1)
    assert sum(g.rows for g in groups) == n_rows


def test_group_count_does_not_grow_with_documents():
    for n_rows in (10**4, 10**6, 10**7):
        assert len(plan_groups(plan_shards(n_rows, 997), 8)) == 8


def test_bad_group_count_is_refused():
    with pytest.raises(ShardError, match="max_groups"):
        plan_groups(plan_shards(10, 2), 0)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sizes=st.lists(st.integers(0, 40), min_size=1, max_size=12), max_groups=st.integers(1, 6))
def test_file_groups_cover_every_file_once(tmp_path_factory, sizes, max_groups):
    root = tmp_path_factory.mktemp("c")
    make_corpus(root, sizes, row_group_size=7)
    groups = plan_file_groups(corpus_layout(root), max_groups)
    assert len(groups) <= max_groups
    assert [f for g in groups for f in g] == list(range(len(sizes)))
    assert all(groups)


def test_rows_per_shard_follows_bytes(tmp_path):
    make_corpus(tmp_path / "c", [200])
    layout = corpus_layout(tmp_path / "c")
    per_row = layout.total_bytes / layout.n_rows
    assert rows_per_shard_for(layout, int(50 * per_row)) == 50
    assert rows_per_shard_for(layout, 1) == 1
    with pytest.raises(ShardError, match="shard_bytes"):
        rows_per_shard_for(layout, 0)


def test_default_shards_are_sized_by_bytes(tmp_path):
    table = make_corpus(tmp_path / "c", [120])
    rows = np.random.default_rng(0).permutation(table.num_rows)
    layout = corpus_layout(tmp_path / "c")
    shard_bytes = int(layout.total_bytes / 4) + 1
    infos = write_ordered_shards(
        tmp_path / "c", rows, tmp_path / "o", shard_bytes=shard_bytes, progress=False
    )
    assert len(infos) == 4
    assert read_out(tmp_path / "o").select(SCHEMA.names).equals(table.take(pa.array(rows)))


@pytest.mark.parametrize("strategy", ["gather", "bucket"])
def test_group_by_group_equals_one_call(tmp_path: Path, strategy):
    """Each group as its own unit (as a pipeline step would run it, with its own job) writes
    the same bytes as the one-call writer."""
    table = make_corpus(tmp_path / "c", [40, 0, 57, 23, 11])
    rows = np.random.default_rng(9).permutation(table.num_rows)
    score = rows.astype(np.float64) / 3
    whole = write_ordered_shards(
        tmp_path / "c",
        rows,
        tmp_path / "whole",
        rows_per_shard=17,
        strategy=strategy,
        extra_columns={"_curation_score": score},
        progress=False,
    )
    layout = corpus_layout(tmp_path / "c")
    specs = plan_shards(table.num_rows, 17)
    spill = tmp_path / "spill" if strategy == "bucket" else None
    if spill is not None:
        for files in plan_file_groups(layout, 2):
            job = ShardJob.prepare(layout, rows, positions=True)
            written = scatter_group(job, specs, spill, files, workers=2)
            assert written == _rows_in(layout, files)
    infos = []
    for group in plan_groups(specs, 3):
        job = ShardJob.prepare(layout, rows, extra_columns={"_curation_score": score})
        infos += write_group(job, group, tmp_path / "grouped", spill, workers=2)
    assert [i.sha256 for i in infos] == [i.sha256 for i in whole]


def _rows_in(layout, files) -> int:
    counts = np.diff(layout.rg_start)
    return int(counts[np.isin(layout.rg_file, files)].sum())
