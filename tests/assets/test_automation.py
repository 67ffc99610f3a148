"""The refresh sensor reads the project file each tick: no run on the first tick, a full
refresh when the scores change, a run of only the changed recipes when curation.yaml does."""

import pyarrow.parquet as pq
import pytest
from dagster import RunRequest, SkipReason, build_sensor_context, instance_for_test

from assets.automation import RANGE_END, RANGE_START, range_tags
from assets.location import build_definitions
from tests.factories import RECIPES, make_corpus, make_project, write_project_file, write_scores


@pytest.fixture
def setup(tmp_path, monkeypatch):
    corpus = make_corpus(tmp_path / "corpus", n=30)
    ids = pq.read_table(corpus, columns=["id"]).column("id").to_pylist()
    scores = write_scores(tmp_path / "scores.parquet", ids, [float(i % 7) for i in range(30)])
    project = make_project(tmp_path / "root", corpus, scores)
    config = tmp_path / "curation.yaml"
    write_project_file(config, project)
    monkeypatch.setenv("CURATION_CONFIG", str(config))
    sensor = build_definitions(project).resolve_sensor_def("refresh_sensor")
    return {"project": project, "config": config, "ids": ids, "scores": scores, "sensor": sensor}


def tick(sensor, instance, cursor):
    ctx = build_sensor_context(instance=instance, cursor=cursor)
    result = sensor(ctx)
    return result, ctx.cursor


def test_first_tick_starts_nothing_and_says_why(setup):
    with instance_for_test() as instance:
        first, cursor = tick(setup["sensor"], instance, None)
        assert isinstance(first, SkipReason) and "first tick" in first.skip_message
        again, _ = tick(setup["sensor"], instance, cursor)
        assert isinstance(again, SkipReason) and "nothing changed" in again.skip_message


def test_a_score_change_refreshes_every_recipe(setup):
    with instance_for_test() as instance:
        _, cursor = tick(setup["sensor"], instance, None)
        write_scores(setup["scores"], setup["ids"], [1.0] * 30)
        requests, _ = tick(setup["sensor"], instance, cursor)
        (request,) = requests
        assert isinstance(request, RunRequest) and request.job_name == "refresh"
        names = setup["project"].recipe_names
        assert (request.tags[RANGE_START], request.tags[RANGE_END]) == (names[0], names[-1])


def test_a_recipe_change_refreshes_only_that_recipe_and_keys_by_content(setup):
    with instance_for_test() as instance:
        _, cursor = tick(setup["sensor"], instance, None)
        recipes = [dict(r) for r in RECIPES]
        recipes[2] = {**recipes[2], "params": {"num_sections": 4}}
        project = make_project(
            setup["project"].storage.root, setup["project"].corpus.uri, setup["scores"], recipes
        )
        write_project_file(setup["config"], project)
        requests, cursor = tick(setup["sensor"], instance, cursor)
        (request,) = requests
        assert request.job_name == "refresh_recipes"
        assert request.tags[RANGE_START] == request.tags[RANGE_END] == "str3"
        assert project.recipe("str3").fingerprint() in request.run_key
        quiet, _ = tick(setup["sensor"], instance, cursor)
        assert isinstance(quiet, SkipReason)


def test_an_invalid_project_file_is_a_readable_skip(setup):
    setup["config"].write_text("recipes:\n  - {name: x, method: nope}\n")
    with instance_for_test() as instance:
        result, _ = tick(setup["sensor"], instance, None)
        assert isinstance(result, SkipReason) and "unknown method 'nope'" in result.skip_message


def test_range_tags_split_non_contiguous_recipes():
    order = ["a", "b", "c", "d"]
    assert range_tags(["a", "b", "d"], order) == [
        {RANGE_START: "a", RANGE_END: "b"},
        {RANGE_START: "d", RANGE_END: "d"},
    ]


def test_a_glob_corpus_scored_by_its_own_column_is_watched(tmp_path, monkeypatch):
    """The score source is the corpus (a glob of jsonl.gz files): an edited file refreshes."""
    import gzip
    import json

    from curation.project import parse_project

    (tmp_path / "src").mkdir()
    for f in range(2):
        rows = [{"id": f"d{f}-{i}", "text": "t", "q": i} for i in range(5)]
        data = "".join(json.dumps(r) + "\n" for r in rows).encode()
        (tmp_path / "src" / f"{f}.jsonl.gz").write_bytes(gzip.compress(data))
    project = parse_project(
        {
            "corpus": {"uri": f"{tmp_path}/src/*.jsonl.gz"},
            "scores": {"column": "q"},
            "storage": {"root": str(tmp_path / "root")},
            "recipes": RECIPES,
        }
    )
    config = tmp_path / "curation.yaml"
    write_project_file(config, project)
    monkeypatch.setenv("CURATION_CONFIG", str(config))
    sensor = build_definitions(project).resolve_sensor_def("refresh_sensor")
    with instance_for_test() as instance:
        first, cursor = tick(sensor, instance, None)
        assert isinstance(first, SkipReason) and "first tick" in first.skip_message
        (tmp_path / "src" / "1.jsonl.gz").write_bytes(
            gzip.compress(b'{"id": "x", "text": "t", "q": 1}\n')
        )
        requests, _ = tick(sensor, instance, cursor)
        assert [r.job_name for r in requests] == ["refresh"]
