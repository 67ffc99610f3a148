"""Issue 15, class 3: names and paths are validated before anything is written."""

import pytest

from curation import publish, storage
from curation.names import InvalidName
from tests.reliability.test_verify_claims import LINEAGE, _shards

BAD = ["../../../x", "a b", "ünï", "a/b", "..", "", ".hidden"]


@pytest.mark.parametrize("name", BAD)
def test_bad_dataset_names_are_refused_before_any_write(tmp_path, name):
    shards = _shards(tmp_path / "in")
    root = tmp_path / "root"
    with pytest.raises(InvalidName):
        publish.publish_version(str(root), name, shards, LINEAGE)
    assert not root.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["in"]


@pytest.mark.parametrize("name", BAD)
def test_storage_under_refuses_segments_that_escape(tmp_path, name):
    with pytest.raises(InvalidName):
        storage.under(tmp_path, "reports", name, "report.md")
    assert list(tmp_path.iterdir()) == []
    assert storage.under(tmp_path, "reports", "web").path == str(tmp_path / "reports" / "web")
