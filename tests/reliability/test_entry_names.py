"""Unsafe names from every entry point of the pipeline are refused before anything is
written: the project file, the environment, and ``curation run``'s arguments."""

import os

import pytest

from curation.cli.main import main
from tests.factories import make_corpus


@pytest.fixture
def project_file(tmp_path, monkeypatch):
    corpus = make_corpus(tmp_path / "corpus", n=12)
    config = tmp_path / "curation.yaml"
    root = tmp_path / "root"

    def write(recipes: str) -> str:
        config.write_text(
            f"corpus: {{uri: {corpus}}}\nstorage: {{root: {root}}}\nrecipes:\n{recipes}"
        )
        return str(config)

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    return {"write": write, "root": root, "tmp": tmp_path}


def written(tmp_path) -> list[str]:
    return sorted(
        os.path.relpath(os.path.join(d, f), tmp_path)
        for d, _, files in os.walk(tmp_path)
        for f in files
        if not d.startswith(str(tmp_path / "corpus")) and f != "curation.yaml"
    )


@pytest.mark.parametrize("prefix", ["../../../x", "a b", "ünï", "a/b", ".hidden"])
def test_an_unsafe_dataset_prefix_from_the_environment_writes_nothing(
    project_file, monkeypatch, capsys, prefix
):
    config = project_file["write"]("  - {name: s, method: sorted}\n")
    monkeypatch.setenv("CURATION_DATASET", prefix)
    assert main(["run", "--config", config]) == 2
    err = capsys.readouterr().err
    assert "storage.dataset_prefix" in err and "invalid dataset name" in err
    assert written(project_file["tmp"]) == [] and not project_file["root"].exists()


@pytest.mark.parametrize("name", ["../../outside", "with space", "slash/name", ""])
def test_an_unsafe_recipe_name_in_the_file_writes_nothing(project_file, capsys, name):
    config = project_file["write"](f"  - {{name: '{name}', method: sorted}}\n")
    assert main(["run", "--config", config]) == 2
    assert "recipes[0]" in capsys.readouterr().err
    assert written(project_file["tmp"]) == []


def test_an_unknown_recipe_on_the_command_line_writes_nothing(project_file, capsys):
    config = project_file["write"]("  - {name: s, method: sorted}\n")
    assert main(["run", "--config", config, "--recipe", "../etc"]) == 2
    assert "no recipe named '../etc'" in capsys.readouterr().err
    assert written(project_file["tmp"]) == []
