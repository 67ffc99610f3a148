"""Dataset names and version ids with ``..``, ``/`` or control characters are rejected
everywhere a user can pass one, and no accepted name escapes the storage root."""

import json
import os
import posixpath
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curation import publish, storage
from curation.storage.names import InvalidName, validate_dataset_name
from tests.factories import LINEAGE
from tests.reliability.helpers import job_env

BAD_NAMES = [
    "..",
    ".",
    "",
    "../escape",
    "a/../../b",
    "/etc",
    "a/b",
    "a\\b",
    "..\\..\\x",
    "a\x00b",
    "line\nbreak",
    "tab\there",
    "bell\x07",
    "del\x7f",
    "esc\x1b[31m",
    ".hidden",
    "-flag",
    "é",
    "a b",
    "x" * 129,
]


def tree(path) -> list[str]:
    return sorted(
        os.path.relpath(os.path.join(d, f), path) for d, _, files in os.walk(path) for f in files
    )


@pytest.fixture
def one_shard(tmp_path) -> list[str]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "in" / "s.parquet"
    path.parent.mkdir()
    pq.write_table(pa.table({"id": ["a"], "text": ["x"]}), path)
    return [str(path)]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_dataset_names_are_rejected_before_any_write(tmp_path, one_shard, name):
    root = tmp_path / "sandbox" / "root"
    root.mkdir(parents=True)
    before = tree(tmp_path)
    with pytest.raises(InvalidName) as err:
        publish.publish_version(str(root), name, one_shard, LINEAGE)
    assert isinstance(err.value, ValueError) and "\n" not in str(err.value).strip()
    for read in (publish.list_versions, publish.verify_version, publish.read_manifest):
        with pytest.raises(InvalidName):
            read(str(root), name)
    assert tree(tmp_path) == before


@pytest.mark.parametrize("version", ["..", "../../x", "a/b", "v\x00", "\n"])
def test_bad_version_ids_are_rejected(tmp_path, one_shard, version):
    root = str(tmp_path / "root")
    publish.publish_version(root, "ds", one_shard, LINEAGE)
    with pytest.raises(InvalidName, match="version id"):
        publish.read_manifest(root, "ds", version)
    with pytest.raises(InvalidName):
        publish.set_latest(root, "ds", version)


def test_tampered_latest_pointer_is_not_followed(tmp_path, one_shard):
    root = tmp_path / "root"
    publish.publish_version(str(root), "ds", one_shard, LINEAGE)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside/manifest.json").write_text(json.dumps({"version": "x"}))
    (root / "ds/latest.json").write_text(json.dumps({"version": "../../outside"}))
    for read in (publish.open_version, publish.verify_version, publish.resolve_version):
        with pytest.raises(InvalidName, match="invalid version id '../../outside'"):
            read(str(root), "ds")


@pytest.mark.parametrize("args", [["../x"], ["ds", "../../x"], ["a/b"], ["ds\x1b"]])
def test_cli_refuses_bad_names_with_one_line(tmp_path, args):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "curation.cli.datasets",
            "datasets",
            "verify",
            "--root",
            str(tmp_path / "root"),
            *args,
        ],
        capture_output=True,
        text=True,
        env=job_env(),
        timeout=60,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: invalid ")
    assert not (tmp_path / "root").exists()


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=0, max_size=40))
def test_no_accepted_name_escapes_the_root(name):
    try:
        validate_dataset_name(name)
    except InvalidName:
        return
    root = storage.resolve("/srv/storage/root")
    joined = root.join(name)
    assert posixpath.dirname(posixpath.normpath(joined.path)) == root.path
    assert posixpath.normpath(joined.path) == joined.path


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("./\\\x00\n\t.a"), min_size=1, max_size=12))
def test_separator_and_control_heavy_names_are_all_rejected_or_plain(name):
    try:
        validate_dataset_name(name)
    except InvalidName:
        return
    assert not set(name) & set("/\\\x00\n\t") and not name.startswith(".")
