"""every marker, pointer and manifest is atomic strict JSON; a damaged
one is named, never a permanent block, and a rerun rebuilds it."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from curation import publish, storage
from curation.storage import DamagedFile
from tests.reliability.test_verify_claims import LINEAGE, _shards


@pytest.fixture
def published(tmp_path):
    root = tmp_path / "root"
    shards = _shards(tmp_path / "in")
    pv = publish.publish_version(str(root), "web", shards, LINEAGE)
    return root, shards, pv


@pytest.mark.parametrize("content", ["", "[]", "{}", '{"version": 7}', '{"vers'])
def test_damaged_latest_pointer_is_named_and_rebuilt_by_a_rerun(published, content):
    root, shards, pv = published
    pointer = root / "web" / "latest.json"
    pointer.write_text(content)
    with pytest.raises(DamagedFile, match="latest.json"):
        publish.resolve_version(str(root), "web")
    again = publish.publish_version(str(root), "web", shards, LINEAGE)  # the rerun
    assert again.version == pv.version
    assert publish.resolve_version(str(root), "web") == pv.version


def test_a_corrupt_manifest_is_named_and_the_others_still_list(published, tmp_path):
    root, shards, pv = published
    other = publish.publish_version(str(root), "other", shards, LINEAGE)
    second = publish.publish_version(str(root), "web", shards[:2], LINEAGE)
    (Path(pv.uri) / "manifest.json").write_text('{"format": 2, "shards": [')
    with pytest.warns(RuntimeWarning, match=f"{pv.version}/manifest.json"):
        assert publish.list_datasets(str(root)) == ["other", "web"]
    with pytest.warns(RuntimeWarning, match="manifest.json"):
        assert [v.version for v in publish.list_versions(str(root), "web")] == [second.version]
    cli = [
        sys.executable,
        "-m",
        "curation.cli.main",
        "datasets",
        "list",
        "--root",
        str(root),
        "web",
    ]
    out = subprocess.run(cli, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert second.version in out.stdout and pv.version in out.stderr
    assert publish.verify_version(str(root), "other", other.version) == []
    problems = publish.verify_version(str(root), "web", pv.version)
    assert problems and "manifest.json" in problems[0]


def test_non_finite_metrics_are_reported_not_computable_and_the_manifest_is_strict(published):
    root, shards, _ = published
    metrics = {"spread": float("nan"), "nested": {"hi": math.inf, "ok": 1.5}, "fine": 2}
    pv = publish.publish_version(str(root), "m", shards, LINEAGE, metrics=metrics)
    text = (Path(pv.uri) / "manifest.json").read_text()
    manifest = json.loads(text, parse_constant=lambda c: pytest.fail(f"bare {c} in manifest"))
    assert manifest["metrics"]["not_computable"] == ["nested.hi", "spread"]
    assert manifest["metrics"]["spread"] is None and manifest["metrics"]["nested"]["ok"] == 1.5
    assert publish.verify_version(str(root), "m") == []


def test_non_strict_json_lineage_is_refused(published):
    root, shards, _ = published
    with pytest.raises(publish.PublishError, match="strict JSON"):
        publish.publish_version(str(root), "x", shards, {**LINEAGE, "seed": float("nan")})


def test_strict_json_helpers_write_atomically_and_refuse_nan(tmp_path):
    loc = storage.resolve(tmp_path / "marker.json")
    storage.write_json_atomic(loc, {"a": 1})
    assert storage.read_json(loc) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["marker.json"]  # no temp left behind
    with pytest.raises(ValueError):
        storage.write_json_atomic(loc, {"a": float("nan")})
    assert storage.read_json(loc) == {"a": 1}  # a refused write leaves the old file whole
    (tmp_path / "marker.json").write_text('{"a": NaN}')
    with pytest.raises(DamagedFile, match="marker.json"):
        storage.read_json(loc)
