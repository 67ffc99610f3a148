"""The project file: every error names the key and the problem; env vars override the file."""

from pathlib import Path

import pytest
import yaml

from curation.project import RecipeError, load_project, parse_project

ROOT = Path(__file__).resolve().parents[2]


def error_of(raw: dict) -> str:
    with pytest.raises(RecipeError) as info:
        parse_project(raw, source="curation.yaml")
    return str(info.value)


def one(recipe: dict) -> dict:
    return {"recipes": [{"name": "a", "method": "str", **recipe}]}


@pytest.mark.parametrize(
    "raw, expected",
    [
        (one({"method": "nope"}), "recipes[0] (name 'a').method: unknown method 'nope'"),
        (one({"params": {"folding_layer": 0}}), "recipes[0] (name 'a').params: folding_layer"),
        (one({"params": {"bogus": 1}}), "unknown parameter(s) ['bogus'] for method 'str'"),
        (one({"params": {"folding_ratio": -1}}), "recipes[0] (name 'a').params: folding_ratio"),
        (one({"prob": True}), "recipes[0] (name 'a').prob: unknown key"),
        (one({"name": "../x"}), "recipes[0] (name '../x').name: invalid dataset name '../x'"),
        (one({"name": "a b"}), "invalid dataset name 'a b'"),
        (
            {"recipes": [{"name": "a", "method": "str"}, {"name": "a", "method": "saw"}]},
            "recipes: duplicate recipe name 'a'",
        ),
        ({"recipes": []}, "recipes: at least one recipe is needed"),
        ({"scores": {"scorers": ["zz"]}, **one({})}, "scores.scorers: unknown scorer(s) ['zz']"),
        ({"run": {"memory_limit_mb": 1}, **one({})}, "run.memory_limit_mb"),
        ({"storage": {"dataset_prefix": "../up"}, **one({})}, "storage.dataset_prefix"),
        (one({"method": "random", "params": {"window_fraction": 0.1}}), "does not apply"),
        (one({"params": {"window_fraction": 2}}), "window_fraction must be a number in (0, 1]"),
        (one({"params": {"window_fraction": 0.1, "window_size": 3}}), "not both"),
    ],
)
def test_each_error_names_the_key_and_the_problem(raw, expected):
    message = error_of(raw)
    assert message.startswith("curation.yaml: ")
    assert expected in message, message


def test_the_shipped_file_is_valid_and_holds_the_paper_configs():
    project = load_project(ROOT / "curation.yaml", env={})
    names = project.recipe_names
    assert {"random", "sorted", "folding", "zigzag", "segment", "str", "saw"} <= set(names)
    paper = project.recipe("str-paper").ordering_params(1_000_000)
    assert paper["num_sections"] == 2 and paper["window_size"] == 5_000
    assert project.recipe("str").ordering_params(1_000_000)["window_size"] == 0
    assert all(project.recipe(n).probe for n in ("random", "sorted", "str-paper", "saw-paper"))


def test_the_shipped_file_selects_then_orders_in_two_recipes():
    project = load_project(ROOT / "curation.yaml", env={})
    top60, top50 = project.recipe("saw-top60"), project.recipe("str-top50")
    assert top60.select.rule == ("top_fraction", 0.6) and top60.probe
    assert top50.select.rule == ("top_fraction", 0.5)
    assert top60.select.score is None and top50.select.score is None  # one score, as the paper
    # the JIT window is a share of the kept rows: 0.5% of 600,000 kept of 10^6
    assert top60.ordering_params(600_000)["window_size"] == 3_000
    assert top50.ordering_params(1_000_000)["num_sections"] == 2


def test_environment_overrides_the_file_and_paths_are_relative_to_it(tmp_path):
    config = tmp_path / "conf" / "curation.yaml"
    config.parent.mkdir()
    config.write_text(
        yaml.safe_dump(
            {
                "corpus": {"uri": "data/corpus.parquet"},
                "recipes": [
                    {"name": "r1", "method": "random"},
                    {"name": "s1", "method": "str"},
                    {"name": "s2", "method": "saw"},
                ],
            }
        )
    )
    plain = load_project(config, env={})
    assert plain.corpus.uri == str(tmp_path / "conf" / "data" / "corpus.parquet")
    env = {
        "CURATION_ROOT": "s3://bucket/prefix",
        "CURATION_SCORES": "s3://bucket/scores.parquet",
        "CURATION_SCORE_COLUMNS": "q1,q2",
        "CURATION_DATASET": "prod",
        "CURATION_METHODS": "str,saw",
        "CURATION_MEMORY_LIMIT_MB": "1024",
    }
    project = load_project(config, env=env)
    assert project.storage.root == "s3://bucket/prefix"
    assert project.scores.uri == "s3://bucket/scores.parquet" and project.scores.columns == [
        "q1",
        "q2",
    ]
    assert project.recipe_names == ["s1", "s2"] and project.dataset_name("s1") == "prod-s1"
    assert project.run.memory_limit_mb == 1024
    assert load_project(config, env={"CURATION_RECIPES": "r1"}).recipe_names == ["r1"]
    with pytest.raises(RecipeError, match="CURATION_RECIPES names unknown recipe"):
        load_project(config, env={"CURATION_RECIPES": "zz"})
    with pytest.raises(RecipeError, match="CURATION_MEMORY_LIMIT_MB='lots': expected an integer"):
        load_project(config, env={"CURATION_MEMORY_LIMIT_MB": "lots"})


def test_a_missing_or_broken_file_is_named(tmp_path):
    with pytest.raises(RecipeError, match="project file not found"):
        load_project(tmp_path / "absent.yaml", env={})
    bad = tmp_path / "bad.yaml"
    bad.write_text("recipes: [\n")
    with pytest.raises(RecipeError, match="bad.yaml: not valid YAML"):
        load_project(bad, env={})


def test_fingerprint_changes_with_params_only():
    a = parse_project(one({"params": {"num_sections": 2}})).recipe("a")
    b = parse_project(one({"params": {"num_sections": 3}})).recipe("a")
    c = parse_project(one({"params": {"num_sections": 2}, "description": "x"})).recipe("a")
    assert a.fingerprint() != b.fingerprint() and a.fingerprint() == c.fingerprint()
