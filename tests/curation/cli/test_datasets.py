"""``curation datasets list | show | verify | diff`` through the argparse entry point."""

import json
import os

import pytest

from curation import publish
from curation.cli.datasets import main
from tests.factories import LINEAGE, write_shards


@pytest.fixture
def two_versions(tmp_path) -> tuple[str, str, str]:
    root = str(tmp_path / "root")
    shards = write_shards(str(tmp_path / "in"), 30, shards=2)
    a = publish.publish_version(root, "web", shards, LINEAGE)
    b = publish.publish_version(root, "web", shards, {**LINEAGE, "method": "saw"})
    return root, a.version, b.version


def test_list_datasets_and_versions(two_versions, capsys):
    root, a, b = two_versions
    assert main(["datasets", "list", "--root", root]) == 0
    assert capsys.readouterr().out.split() == ["web"]
    assert main(["datasets", "list", "--root", root, "web"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    latest = [ln for ln in lines if ln.startswith("*")]
    assert len(latest) == 1 and b in latest[0] and "method=saw" in latest[0]


def test_show_prints_the_manifest(two_versions, capsys):
    root, a, _ = two_versions
    assert main(["datasets", "show", "--root", root, "web", a, "--json"]) == 0
    manifest = json.loads(capsys.readouterr().out)
    assert manifest["version"] == a and manifest["num_rows"] == 30
    assert main(["datasets", "show", "--root", root, "web", a]) == 0
    table = dict(line.split(None, 1) for line in capsys.readouterr().out.splitlines())
    assert table["version"] == a and table["rows"] == "30" and table["lineage.method"] == "str"


def test_verify_ok_then_problems_exit_1(two_versions, capsys):
    root, a, _ = two_versions
    assert main(["datasets", "verify", "--root", root, "web", a]) == 0
    assert capsys.readouterr().out.strip().endswith("ok")
    os.remove(os.path.join(root, "web", a, "part-00000.parquet"))
    assert main(["datasets", "verify", "--root", root, "web", a]) == 1
    assert "part-00000.parquet: missing" in capsys.readouterr().out


def test_diff_between_versions(two_versions, capsys):
    root, a, b = two_versions
    assert main(["datasets", "diff", "--root", root, "web", a, b, "--json"]) == 0
    diff = json.loads(capsys.readouterr().out)
    assert diff["lineage"] == {"method": {"a": "str", "b": "saw"}}
    assert diff["positions"]["moved"] == 0
    assert main(["datasets", "diff", "--root", root, "web", a, b]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"web: {a} -> {b}" and lines[1].split() == ["what", "old", "new"]
    assert ["lineage.method", "str", "saw"] in [line.split() for line in lines]
    assert lines[-1].endswith("documents moved: 0 of 30")


def test_the_root_comes_from_the_project_file(two_versions, tmp_path, monkeypatch, capsys):
    root, a, _ = two_versions
    storage = tmp_path / "store"
    storage.mkdir()
    os.symlink(root, storage / "published")  # <storage.root>/published is the default
    config = tmp_path / "project.yaml"
    config.write_text(f"storage: {{root: {storage}}}\nrecipes: [{{name: web, method: str}}]\n")
    monkeypatch.setenv("CURATION_CONFIG", str(config))
    assert main(["datasets", "list"]) == 0
    assert capsys.readouterr().out.split() == ["web"]


@pytest.mark.parametrize(
    "argv",
    [
        ["datasets", "show", "--root", "{root}", "nothing-here"],
        ["datasets", "show", "--root", "{root}", "../etc"],
        ["datasets", "list", "--root", "{root}", "nothing-here"],
        ["datasets", "diff", "--root", "{root}", "web", "0000000000000000"],
    ],
)
def test_errors_are_one_line_exit_2(two_versions, capsys, argv):
    root, _, _ = two_versions
    assert main([a.format(root=root) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
