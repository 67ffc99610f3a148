"""Retention: ``curation datasets prune --keep N`` (never latest, never a pinned version; a
dry run first) and ``curation work clean --older-than`` (what current materializations use
is kept), each reporting the space freed."""

import json
import os
import time

from curation import publish
from curation.cli.main import main
from tests.factories import LINEAGE, write_shards


def _publish(root: str, shards: list[str], seed: int, day: int) -> str:
    version = publish.publish_version(root, "web", shards, {**LINEAGE, "seed": seed}).version
    info = os.path.join(root, "web", ".publish-info", f"{version}.json")
    with open(info) as f:
        data = json.load(f)
    data["published_at"] = f"2026-01-0{day}T00:00:00Z"  # distinct days: a known order
    with open(info, "w") as f:
        json.dump(data, f)
    return version


def test_prune_keeps_latest_pinned_and_newest_and_dry_runs_first(tmp_path, capsys):
    root = str(tmp_path / "published")
    shards = write_shards(str(tmp_path / "in"), 40)
    v1, v2, v3, v4 = (_publish(root, shards, seed, seed) for seed in (1, 2, 3, 4))
    publish.publish_version(root, "web", shards, {**LINEAGE, "seed": 2})  # latest back to v2
    assert publish.resolve_version(root, "web") == v2
    args = ["datasets", "prune", "--root", root, "--keep", "1", "--pin", v1]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "dry run: 1 version(s)" in out and "MiB would be freed" in out
    assert {v1, v2, v3, v4} <= set(os.listdir(os.path.join(root, "web")))
    lines = {line.split()[1]: line for line in out.splitlines() if line.startswith("web ")}
    assert "DELETE" in lines[v3] and "latest" in lines[v2] and "pinned" in lines[v1]
    assert "newest 1" in lines[v4]
    assert main([*args, "--yes"]) == 0
    out = capsys.readouterr().out
    assert "deleted 1 version(s)" in out and "MiB freed" in out
    assert not os.path.exists(os.path.join(root, "web", v3))
    assert {v.version for v in publish.list_versions(root, "web")} == {v1, v2, v4}
    for version in (v1, v2, v4):
        assert publish.verify_version(root, "web", version) == []


def test_prune_refuses_keep_zero(tmp_path, capsys):
    root = str(tmp_path / "published")
    _publish(root, write_shards(str(tmp_path / "in"), 10), 1, 1)
    assert main(["datasets", "prune", "--root", root, "--keep", "0"]) == 2
    assert "--keep must be >= 1" in capsys.readouterr().err


def _entry(path, size: int, age_s: float) -> None:
    path.mkdir(parents=True)
    (path / "data.bin").write_bytes(b"x" * size)
    when = time.time() - age_s
    os.utime(path / "data.bin", (when, when))


def test_work_clean_removes_old_unused_caches_only(tmp_path, capsys):
    root = tmp_path / "storage"
    day = 86400
    _entry(root / "work" / "shards" / "str-paper" / "old", 3 << 20, 9 * day)
    _entry(root / "work" / "orderings" / "str-paper" / "used", 1 << 20, 9 * day)
    _entry(root / "work" / "scores" / "recent", 1 << 20, 1 * day)
    _entry(root / "staging" / "oldcorpus", 2 << 20, 30 * day)
    ref = root / "refs" / "assets" / "orderings" / "str-paper.json"
    ref.parent.mkdir(parents=True)
    used = str(root / "work" / "orderings" / "str-paper" / "used" / "ordering.parquet")
    ref.write_text(json.dumps({"uri": used}))
    args = ["work", "clean", "--root", str(root), "--older-than", "7d"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "dry run: 2 entries, 5.0 MiB would be freed" in out, out
    assert (root / "work" / "shards" / "str-paper" / "old").exists()
    assert main([*args, "--yes"]) == 0
    assert "deleted 2 entries, 5.0 MiB freed" in capsys.readouterr().out
    assert not (root / "work" / "shards" / "str-paper" / "old").exists()
    assert not (root / "staging" / "oldcorpus").exists()
    assert (root / "work" / "orderings" / "str-paper" / "used").exists()
    assert (root / "work" / "scores" / "recent").exists()


def test_work_clean_names_a_bad_age(tmp_path, capsys):
    assert main(["work", "clean", "--root", str(tmp_path), "--older-than", "week"]) == 2
    assert "--older-than expects" in capsys.readouterr().err
