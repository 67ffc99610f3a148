"""Publishing: content-addressed immutable versions, atomic commit, refusal, verify, diff."""

import json
import multiprocessing
import os
import posixpath
import threading

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curation import publish, storage
from curation.publish import NotPublished, PublishError, PublishRefused
from curation.storage.names import InvalidName, validate_dataset_name
from tests.factories import LINEAGE, write_shards


@pytest.fixture
def shards(tmp_path) -> list[str]:
    return write_shards(str(tmp_path / "in"), 50)


def test_publish_layout_and_manifest(tmp_path, shards):
    root = str(tmp_path / "root")
    pv = publish.publish_version(
        root,
        "web",
        shards,
        LINEAGE,
        metrics={"cycles": 2},
        checks={"perm": {"passed": True, "blocking": True, "description": "permutation"}},
    )
    files = sorted(os.listdir(pv.uri))
    assert files == [
        "manifest.json",
        "part-00000.parquet",
        "part-00001.parquet",
        "part-00002.parquet",
    ]
    m = pv.manifest
    assert m["lineage"] == LINEAGE and m["num_rows"] == 50 and m["metrics"] == {"cycles": 2}
    assert [(s["row_start"], s["row_end"]) for s in m["shards"]] == [(0, 16), (16, 33), (33, 50)]
    assert m["shards"][0]["row_groups"] == [7, 7, 2]
    assert m["checks"]["perm"]["passed"] is True
    assert json.loads((tmp_path / "root/web/latest.json").read_text()) == {"version": pv.version}
    assert publish.verify_version(root, "web", pv.version) == []
    assert publish.read_manifest(root, "web") == m


def test_publishing_twice_is_a_noop(tmp_path, shards):
    root = str(tmp_path / "root")
    first = publish.publish_version(root, "web", shards, LINEAGE)
    manifest = os.path.join(first.uri, "manifest.json")
    before = (os.stat(manifest).st_mtime_ns, open(manifest, "rb").read())
    again = publish.publish_version(root, "web", shards, LINEAGE, metrics={"other": 1})
    assert again.version == first.version and again.manifest == first.manifest
    assert (os.stat(manifest).st_mtime_ns, open(manifest, "rb").read()) == before
    assert [v.version for v in publish.list_versions(root, "web")] == [first.version]


def test_new_inputs_new_version_latest_moves_old_stays(tmp_path, shards):
    root = str(tmp_path / "root")
    a = publish.publish_version(root, "web", shards, LINEAGE)
    b = publish.publish_version(root, "web", shards, {**LINEAGE, "seed": 7})
    c = publish.publish_version(
        root, "web", write_shards(str(tmp_path / "in2"), 50, seed=1), LINEAGE
    )
    assert len({a.version, b.version, c.version}) == 3
    assert publish.resolve_version(root, "web") == c.version
    assert publish.read_manifest(root, "web", a.version)["lineage"]["seed"] == 42
    assert publish.verify_version(root, "web", a.version) == []
    assert {v.version for v in publish.list_versions(root, "web")} == {
        a.version,
        b.version,
        c.version,
    }


def test_failed_blocking_check_refuses_and_writes_nothing(tmp_path, shards):
    root = tmp_path / "root"
    checks = {
        "permutation": {"passed": False, "blocking": True, "description": "is a permutation"},
        "cycles": {"passed": False, "blocking": False, "description": "advisory"},
        "coverage": {"passed": True, "blocking": True, "description": "all scored"},
    }
    with pytest.raises(PublishRefused, match="permutation") as err:
        publish.publish_version(str(root), "web", shards, LINEAGE, checks=checks)
    assert "cycles" not in str(err.value) and "coverage" not in str(err.value)
    assert not root.exists()
    checks["permutation"]["passed"] = True
    pv = publish.publish_version(str(root), "web", shards, LINEAGE, checks=checks)
    assert pv.manifest["checks"]["cycles"]["passed"] is False  # advisory failures are recorded


def _publish_worker(args):
    root, shard_uris = args
    return publish.publish_version(root, "web", shard_uris, LINEAGE).version


def test_concurrent_publishers_yield_one_version(tmp_path, shards):
    root = str(tmp_path / "root")
    results, errors = [], []

    def run():
        try:
            results.append(publish.publish_version(root, "web", shards, LINEAGE).version)
        except Exception as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(3) as pool:
        results += pool.map(_publish_worker, [(root, shards)] * 3)
    assert errors == [] and len(set(results)) == 1
    (version,) = set(results)
    assert [v.version for v in publish.list_versions(root, "web")] == [version]
    leftovers = [f for f in os.listdir(os.path.join(root, "web", version)) if f.endswith(".tmp")]
    assert leftovers == []
    assert publish.verify_version(root, "web", version) == []


def test_staging_leftovers_are_invisible_then_completed(tmp_path, shards):
    root = str(tmp_path / "root")
    version = publish.version_id(
        LINEAGE, [publish.sha256_of(storage.resolve(s))[0] for s in shards]
    )
    staging = tmp_path / "root" / "web" / version
    staging.mkdir(parents=True)
    (staging / "part-00000.parquet").write_bytes(b"half a shard")  # crash mid-copy
    assert publish.list_datasets(root) == [] and publish.list_versions(root, "web") == []
    with pytest.raises(NotPublished):
        publish.read_manifest(root, "web", version)
    pv = publish.publish_version(root, "web", shards, LINEAGE)
    assert pv.version == version and publish.verify_version(root, "web", version) == []


def test_verify_finds_corruption_missing_and_disorder(tmp_path, shards):
    root = str(tmp_path / "root")
    pv = publish.publish_version(root, "web", shards, LINEAGE)
    part1 = os.path.join(pv.uri, "part-00001.parquet")
    data = bytearray(open(part1, "rb").read())
    data[len(data) // 2] ^= 0xFF
    open(part1, "wb").write(bytes(data))
    os.remove(os.path.join(pv.uri, "part-00002.parquet"))
    problems = publish.verify_version(root, "web", pv.version)
    assert any("part-00001" in p and "sha256" in p for p in problems)
    assert any("part-00002" in p and "missing" in p for p in problems)
    # a shard whose bytes are intact but whose rows are out of order is also caught
    bad = write_shards(str(tmp_path / "bad"), 20, shards=1)
    t = pq.read_table(bad[0])
    pq.write_table(t.take(pa.array(np.r_[1, 0, 2:20])), bad[0])
    pv2 = publish.publish_version(root, "mixed", bad, LINEAGE)
    (problem,) = publish.verify_version(root, "mixed", pv2.version)
    assert "position" in problem and "[0, 1]" in problem


def test_diff_reports_lineage_positions_and_scores(tmp_path, shards):
    root = str(tmp_path / "root")
    a = publish.publish_version(root, "web", shards, LINEAGE)
    table = pa.concat_tables([pq.read_table(s) for s in shards])
    order = np.r_[10:20, 0:10, 20:50]
    moved = table.take(pa.array(order)).set_column(2, "_curation_position", pa.array(np.arange(50)))
    scores = moved.column("_curation_score").to_numpy().copy()
    scores[0] += 1.0
    moved = moved.set_column(3, "_curation_score", pa.array(scores)).slice(0, 49)
    path = str(tmp_path / "moved.parquet")
    pq.write_table(moved, path)
    b = publish.publish_version(root, "web", [path], {**LINEAGE, "method": "saw"})
    d = publish.diff_versions(root, "web", a.version, b.version)
    assert d["lineage"] == {"method": {"a": "str", "b": "saw"}}
    assert d["rows"] == {"a": 50, "b": 49}
    assert d["ids_only_in_a"]["count"] == 1 and d["ids_only_in_b"]["count"] == 0
    assert d["positions"]["moved"] == 20 and d["positions"]["max_displacement"] == 10
    assert d["scores"]["_curation_score"]["changed"] == 1
    assert d["scores"]["_curation_score"]["max_abs_diff"] == pytest.approx(1.0)


def test_bad_inputs_are_named(tmp_path, shards):
    root = str(tmp_path / "root")
    with pytest.raises(PublishError, match="seed"):
        publish.publish_version(
            root, "web", shards, {k: v for k, v in LINEAGE.items() if k != "seed"}
        )
    with pytest.raises(PublishError, match="nope.parquet"):
        publish.publish_version(root, "web", shards + [str(tmp_path / "nope.parquet")], LINEAGE)
    no_text = str(tmp_path / "no_text.parquet")
    pq.write_table(pa.table({"id": [1]}), no_text)
    with pytest.raises(PublishError, match="no_text.parquet"):
        publish.publish_version(root, "web", [no_text], LINEAGE)
    other = str(tmp_path / "other.parquet")
    pq.write_table(pa.table({"id": ["x"], "text": ["y"]}), other)
    with pytest.raises(PublishError, match="schema"):
        publish.publish_version(root, "web", shards + [other], LINEAGE)
    with pytest.raises(InvalidName):
        publish.publish_version(root, "../escape", shards, LINEAGE)
    with pytest.raises(PublishError, match="malformed"):
        publish.publish_version(root, "web", shards, LINEAGE, checks={"x": True})
    assert not os.path.exists(root)


@pytest.mark.parametrize(
    "bad", ["", ".", "..", "a/b", "a\\b", ".hidden", "x\n", "a\x00b", "-dash", "é", "x" * 129]
)
def test_invalid_names_rejected(bad):
    with pytest.raises(InvalidName):
        validate_dataset_name(bad)


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=0, max_size=140))
def test_accepted_names_never_escape_the_root(name):
    try:
        validate_dataset_name(name)
    except InvalidName:
        return
    root = storage.resolve("/srv/root")
    joined = root.join(name)
    assert posixpath.dirname(joined.path) == root.path
    assert posixpath.basename(joined.path) == name and name not in (".", "..")


def test_s3_round_trip(s3_bucket, tmp_path):
    root = f"{s3_bucket}/published"
    inputs = write_shards(f"{s3_bucket}/staging-input", 40, shards=2)
    pv = publish.publish_version(root, "web", inputs, LINEAGE)
    assert pv.uri.startswith("s3://")
    assert publish.list_datasets(root) == ["web"]
    assert [v.version for v in publish.list_versions(root, "web")] == [pv.version]
    assert publish.read_manifest(root, "web")["num_rows"] == 40
    assert publish.verify_version(root, "web") == []
    assert publish.publish_version(root, "web", inputs, LINEAGE).manifest == pv.manifest
    loc = storage.resolve(pv.uri).join("part-00001.parquet")
    storage.write_bytes(loc, storage.read_bytes(loc)[:-10] + b"corrupted!")
    assert any("sha256" in p for p in publish.verify_version(root, "web"))
