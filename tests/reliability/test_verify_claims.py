"""verification checks every claim a manifest makes, in one place.

Each case edits a published version the way a hostile user (or a bad sync) would, then
asks both ``verify_version`` (the CLI's check) and the reader: the edit must be named.
"""

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation import publish
from curation.publish import ManifestError
from curation.reader import ChecksumMismatch, OrderedDataset
from curation.reader.rows import ShardLayoutMismatch
from tests.factories import LINEAGE


def _shards(tmp: Path, rows: int = 40, per: int = 10, group: int = 10) -> list[str]:
    tmp.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, start in enumerate(range(0, rows, per)):
        pos = np.arange(start, start + per, dtype=np.int64)
        table = pa.table(
            {
                "id": [f"d{p}" for p in pos.tolist()],
                "text": [f"t{p}" for p in pos],
                "_curation_position": pos,
            }
        )
        path = tmp / f"s{k}.parquet"
        pq.write_table(table, path, row_group_size=group)
        paths.append(str(path))
    return paths


@pytest.fixture
def version(tmp_path):
    root = tmp_path / "root"
    pv = publish.publish_version(
        str(root), "web", _shards(tmp_path / "in"), LINEAGE, checks={"c": {"passed": True}}
    )
    return root, Path(pv.uri)


def _edit(vdir: Path, change) -> None:
    path = vdir / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def _problems(root: Path, vdir: Path) -> str:
    return " | ".join(publish.verify_version(str(root), "web", vdir.name))


def test_untouched_version_verifies_in_both_places(version):
    root, vdir = version
    assert publish.verify_version(str(root), "web") == []
    assert OrderedDataset(str(vdir), verify=True).num_rows == 40


def test_row_group_sizes_are_checked_against_the_footer(version):
    root, vdir = version
    _edit(vdir, lambda m: m["shards"][1].update(row_groups=[5, 5]))
    assert "row groups [10], manifest says [5, 5]" in _problems(root, vdir)
    with pytest.raises(ChecksumMismatch, match="row groups"):
        OrderedDataset(str(vdir), verify=True)


def test_the_reader_without_verify_never_places_rows_by_unchecked_row_groups(version):
    """The edit above, read without ``verify``: the shard's footer refutes the manifest
    before any of its rows is served (it used to yield 35 of 40 rows)."""
    _, vdir = version
    _edit(vdir, lambda m: m["shards"][1].update(row_groups=[5, 5]))
    served = []
    with pytest.raises(ShardLayoutMismatch, match="part-00001.parquet: row groups"):
        for batch in OrderedDataset(str(vdir), batch_size=4, verify=False):
            served += list(batch["id"])
    # whatever came out before the refusal is a correct prefix (blocks are decoded ahead)
    assert [str(x) for x in served] == [f"d{p}" for p in range(len(served))]


def test_dropping_the_last_shard_and_its_entry_breaks_the_version_id(version):
    root, vdir = version

    def drop(m):
        m["shards"].pop()
        m["num_rows"] = 30

    _edit(vdir, drop)
    (vdir / "part-00003.parquet").unlink()
    assert "does not match its content" in _problems(root, vdir)
    with pytest.raises(ManifestError, match="does not match its content"):
        OrderedDataset(str(vdir))  # refused even without verify


@pytest.mark.parametrize(
    "forge",
    [
        lambda m: m["lineage"].update(corpus_version="other"),
        lambda m: m["checks"]["c"].update(passed=False),
        lambda m: m["checks"].update(extra={"passed": True}),
    ],
    ids=["lineage", "check-verdict", "added-check"],
)
def test_forged_lineage_or_checks_are_named(version, forge):
    root, vdir = version
    _edit(vdir, forge)
    assert "does not match its content" in _problems(root, vdir)


def test_swapped_shards_are_refused(version):
    root, vdir = version
    a, b = vdir / "part-00000.parquet", vdir / "part-00001.parquet"
    tmp = vdir / "swap"
    a.rename(tmp), b.rename(a), tmp.rename(b)
    assert "sha256 mismatch" in _problems(root, vdir)
    with pytest.raises(ChecksumMismatch, match="part-00000"):
        OrderedDataset(str(vdir), verify=True)

    def swap_entries(m):  # make the hashes match the swapped files: the order claim breaks
        s = m["shards"]
        s[0]["sha256"], s[1]["sha256"] = s[1]["sha256"], s[0]["sha256"]

    _edit(vdir, swap_entries)
    assert "does not match its content" in _problems(root, vdir)

    def swap_names(m):
        s = m["shards"]
        s[0]["name"], s[1]["name"] = s[1]["name"], s[0]["name"]

    _edit(vdir, swap_names)
    assert "must be 'part-00000.parquet'" in _problems(root, vdir)


@pytest.mark.parametrize("name", ["../../../outside.parquet", "/etc/passwd", "sub/part.parquet"])
def test_escaping_shard_names_are_refused_without_verify(version, tmp_path, name):
    root, vdir = version
    outside = tmp_path / "outside.parquet"
    shutil.copy(vdir / "part-00000.parquet", outside)
    _edit(vdir, lambda m: m["shards"][0].update(name=name))
    with pytest.raises(ManifestError, match="names are fixed by position"):
        OrderedDataset(str(vdir))
    assert "names are fixed by position" in _problems(root, vdir)


def test_a_shard_that_links_out_of_the_version_is_refused(version, tmp_path):
    root, vdir = version
    outside = tmp_path / "elsewhere.parquet"
    shutil.move(vdir / "part-00002.parquet", outside)
    os.symlink(outside, vdir / "part-00002.parquet")  # same bytes, hash matches
    assert "symbolic link" in _problems(root, vdir)
    with pytest.raises(ChecksumMismatch, match="symbolic link"):
        OrderedDataset(str(vdir), verify=True)


def test_row_ranges_and_total_are_checked(version):
    root, vdir = version
    _edit(vdir, lambda m: m["shards"][2].update(row_start=21, row_end=31))
    assert "does not follow on from row 20" in _problems(root, vdir)
    _edit(vdir, lambda m: m.update(num_rows=41))
    assert "manifest says 41" in _problems(root, vdir)


def test_cli_and_reader_call_the_same_verification(version, monkeypatch):
    """One implementation: patching it changes both answers."""
    root, vdir = version
    calls = []
    original = publish.verify.verify_opened

    def spy(*args, **kwargs):
        calls.append(args[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(publish.verify, "verify_opened", spy)
    monkeypatch.setattr(publish, "verify_opened", spy)
    publish.verify_version(str(root), "web")
    OrderedDataset(str(vdir), verify=True)
    assert len(calls) == 2 and calls[0] == calls[1] == str(vdir)


def test_a_version_copied_into_another_dataset_is_named_and_not_served(version):
    """Its id still matches its content, but the manifest says where it belongs."""
    import shutil

    root, vdir = version
    target = root / "ds" / vdir.name
    shutil.copytree(vdir, target)
    problems = publish.verify_version(str(root), "ds", vdir.name)
    assert any("belongs to dataset 'web' but sits in dataset 'ds'" in p for p in problems)
    with pytest.raises(publish.ManifestError, match="belongs to dataset 'web'"):
        publish.read_manifest(str(root), "ds", vdir.name)
    with pytest.raises(Exception, match="belongs to dataset 'web'"):
        OrderedDataset(str(target), verify=False)
    with pytest.warns(RuntimeWarning, match="belongs to dataset"):
        assert publish.list_versions(str(root), "ds") == []
