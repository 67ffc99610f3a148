"""What a run reuses is checked before reuse, at a cost that does not grow with the data:
damaged published shards, score caches, ordering tables and shard sets are named and rebuilt
(a published shard restored to the bytes its manifest records), never trusted for existing."""

import glob
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curation.publish import verify_version
from curation.stages.local import run_recipe
from tests.factories import make_corpus, make_project, write_scores


@pytest.fixture
def published(tmp_path):
    corpus = make_corpus(tmp_path / "corpus", n=60)
    ids = pq.read_table(corpus, columns=["id"]).column("id").to_pylist()
    scores = write_scores(tmp_path / "s.parquet", ids, [float((i * 37) % 61) for i in range(60)])
    project = make_project(tmp_path / "root", corpus, scores)
    name = project.recipe_names[0]
    return project, name, run_recipe(project, name)


def _truncate(path: str, keep: float = 0.5) -> None:
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[: int(len(data) * keep)])


def _flip_middle(path: str) -> None:
    data = bytearray(Path(path).read_bytes())
    middle = len(data) // 2
    data[middle : middle + 8] = bytes(b ^ 0xFF for b in data[middle : middle + 8])
    Path(path).write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [_truncate, _flip_middle], ids=["truncated", "bytes-flipped"])
def test_a_damaged_published_shard_is_restored_to_its_manifest_bytes(published, damage):
    project, name, first = published
    shard = sorted(glob.glob(os.path.join(first.uri, "part-*.parquet")))[-1]
    damage(shard)
    assert verify_version(first.root, first.dataset) != []
    with pytest.warns(RuntimeWarning, match=r"part-\d+\.parquet was damaged"):
        again = run_recipe(project, name)
    assert again.version == first.version and not again.moved_latest
    assert verify_version(first.root, first.dataset) == []


def test_a_truncated_score_cache_is_named_and_rebuilt(published):
    project, name, first = published
    (cache,) = glob.glob(project.path("work", "scores", "*", "aligned-*.npy"))
    _truncate(cache)
    with pytest.warns(RuntimeWarning, match="aligned score cache .* is damaged"):
        assert run_recipe(project, name).version == first.version


def test_a_truncated_ordering_table_is_named_and_rebuilt(published):
    project, name, first = published
    (table,) = glob.glob(
        project.path("work", "orderings", "**", "ordering.parquet"), recursive=True
    )
    _truncate(table, 0.9)
    with pytest.warns(RuntimeWarning, match="ordering table .* is damaged"):
        assert run_recipe(project, name).version == first.version


def test_a_damaged_shard_set_in_the_work_area_is_rebuilt(published):
    project, name, first = published
    shards = glob.glob(project.path("work", "shards", "**", "*.parquet"), recursive=True)
    _truncate(sorted(shards)[0])
    with pytest.warns(RuntimeWarning, match="shard set .* is damaged"):
        assert run_recipe(project, name).version == first.version
    assert verify_version(first.root, first.dataset) == []
