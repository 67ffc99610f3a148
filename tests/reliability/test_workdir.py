"""commit markers written once, atomically, as
strict JSON; a damaged one is named and rebuilt; per-run scratch directories; two
processes committing the same content both succeed."""

import multiprocessing
import os

import pytest

from curation import storage
from curation.storage.names import InvalidName
from curation.storage.workdir import commit_marker, read_marker, run_scratch


@pytest.mark.parametrize("damage", ["", "[", '{"a": NaN}'])
def test_a_damaged_marker_is_named_and_rebuilt(tmp_path, damage):
    loc = storage.resolve(tmp_path / "shards.json")
    (tmp_path / "shards.json").write_text(damage)  # a crash between create and write
    with pytest.warns(RuntimeWarning, match="shards.json"):
        assert read_marker(loc) is None
    assert commit_marker(loc, [{"rows": 3}]) == [{"rows": 3}]
    assert read_marker(loc) == [{"rows": 3}]


def test_a_second_commit_keeps_the_first_and_leaves_no_temp(tmp_path):
    loc = storage.resolve(tmp_path / "m.json")
    assert commit_marker(loc, {"v": 1}) == {"v": 1}
    assert commit_marker(loc, {"v": 2}) == {"v": 1}
    assert os.listdir(tmp_path) == ["m.json"]


def _commit(path):
    return commit_marker(storage.resolve(path), {"shards": list(range(100))})


def test_racing_processes_commit_one_marker(tmp_path):
    path = str(tmp_path / "m.json")
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        results = pool.map(_commit, [path] * 8)
    assert all(r == {"shards": list(range(100))} for r in results)
    assert os.listdir(tmp_path) == ["m.json"]


def test_run_scratch_is_private_per_run_and_validated(tmp_path):
    a, b = run_scratch(str(tmp_path), "run-a"), run_scratch(str(tmp_path), "run-b")
    assert a.path != b.path and a.path.startswith(str(tmp_path / ".runs"))
    with pytest.raises(InvalidName):
        run_scratch(str(tmp_path), "../other")
