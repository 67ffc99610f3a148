"""The engine setting: default local, the project file, CURATION_ENGINE, RAY_ADDRESS (no Ray
is started here)."""

import pytest

from curation.engines.ray_cluster import ray_address
from curation.project import RecipeError, apply_env, parse_project

RAW = {"recipes": [{"name": "r", "method": "random"}]}


def project(raw: dict, env: dict | None = None):
    return parse_project(apply_env(raw, env or {}))


def test_the_default_is_the_local_engine_and_a_local_ray():
    p = project(RAW)
    assert p.run.engine == "local" and p.ray.address is None and p.ray.shuffle == "objects"


def test_the_environment_overrides_the_file():
    raw = {**RAW, "run": {"engine": "local"}, "ray": {"address": "10.0.0.1:6379"}}
    p = project(raw, {"CURATION_ENGINE": "ray", "RAY_ADDRESS": "auto"})
    assert p.run.engine == "ray" and p.ray.address == "auto"


def test_an_unknown_engine_is_refused_by_key():
    with pytest.raises(RecipeError, match=r"run\.engine"):
        project({**RAW, "run": {"engine": "spark"}})


def test_rays_own_variable_wins_over_the_project_address():
    assert ray_address("10.0.0.1:6379", {}) == "10.0.0.1:6379"
    assert ray_address("10.0.0.1:6379", {"RAY_ADDRESS": "auto"}) == "auto"
    assert ray_address(None, {}) is None
