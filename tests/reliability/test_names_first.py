"""names and paths are validated before anything is written (publishing
is covered by test_names.py; this is the seam for names from env, run config and CLI)."""

import pytest

from curation import storage
from curation.storage.names import InvalidName

BAD = ["../../../x", "a b", "ünï", "a/b", "..", "", ".hidden"]


@pytest.mark.parametrize("name", BAD)
def test_storage_under_refuses_segments_that_escape(tmp_path, name):
    with pytest.raises(InvalidName):
        storage.under(tmp_path, "reports", name, "report.md")
    assert list(tmp_path.iterdir()) == []
    assert storage.under(tmp_path, "reports", "web").path == str(tmp_path / "reports" / "web")
