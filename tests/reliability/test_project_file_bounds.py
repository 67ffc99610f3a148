"""A project file is small: an alias bomb or an oversized file is refused by name, at the
console and in the sensor, before anything expands it."""

import pytest

from curation.cli.main import main
from curation.project import RecipeError, load_project
from curation.storage.yaml_file import read_yaml

BOMB = "\n".join(
    [f"a0: &a0 [{', '.join(['lol'] * 9)}]"]
    + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
)


@pytest.fixture
def bomb(tmp_path):
    path = tmp_path / "curation.yaml"
    path.write_text(BOMB + "\n")
    return path


def test_curation_run_refuses_an_alias_bomb_in_one_line(bomb, capsys):
    assert main(["run", "--config", str(bomb)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "alias bomb" in err and str(bomb) in err


def test_a_recursive_alias_is_refused(tmp_path):
    path = tmp_path / "curation.yaml"
    path.write_text("corpus: &c {uri: x, more: *c}\n")
    with pytest.raises(RecipeError, match="alias"):
        load_project(path, env={})


def test_an_oversized_file_is_refused_before_it_is_parsed(tmp_path):
    path = tmp_path / "curation.yaml"
    path.write_text("# padding\n" * 200_000)
    with pytest.raises(RecipeError, match="bytes, more than"):
        load_project(path, env={})


def test_ordinary_aliases_still_work(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("base: &p {x: 1}\nrecipes: [{params: *p}, {params: *p}]\n")
    assert read_yaml(path)["recipes"][1]["params"] == {"x": 1}


def test_the_sensor_skips_naming_the_bomb(bomb, monkeypatch):
    from dagster import SkipReason, build_sensor_context, instance_for_test

    from assets.automation import build_automation
    from tests.factories import make_corpus, make_project

    project = make_project(bomb.parent / "root", make_corpus(bomb.parent / "corpus", n=8))
    _, (sensor,), _ = build_automation(project)
    monkeypatch.setenv("CURATION_CONFIG", str(bomb))
    with instance_for_test() as instance:
        result = sensor(build_sensor_context(instance=instance))
    assert isinstance(result, SkipReason) and "alias bomb" in result.skip_message
