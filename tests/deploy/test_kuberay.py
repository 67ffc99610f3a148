"""deploy/kuberay/raycluster.yaml against the RayCluster CRD's OpenAPI schema, vendored with its
KubeRay version and source (deploy/kuberay/raycluster.v1.schema.json), offline.

A CRD's structural schema prunes unknown fields instead of refusing them, so a typo would be
dropped silently by the API server; the check closes every object the schema describes
(``additionalProperties: false`` unless it preserves unknown fields) so a typo fails here."""

import copy
import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SCHEMA = DEPLOY / "kuberay" / "raycluster.v1.schema.json"
MANIFEST = DEPLOY / "kuberay" / "raycluster.yaml"


def closed(node):
    """The schema with every described object closed to unknown keys."""
    if isinstance(node, list):
        return [closed(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: closed(v) for k, v in node.items()}
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


@pytest.fixture(scope="module")
def validator():
    schema = json.loads(SCHEMA.read_text())
    return jsonschema.Draft7Validator(closed(schema))


def manifest() -> dict:
    return yaml.safe_load(MANIFEST.read_text())


def errors(validator, doc) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)
    ]


def test_the_vendored_schema_names_its_version_and_source():
    comment = json.loads(SCHEMA.read_text())["$comment"]
    assert "KubeRay v1.7.0" in comment and "github.com/ray-project/kuberay" in comment


def test_the_raycluster_manifest_matches_the_crd_schema(validator):
    assert errors(validator, manifest()) == []


@pytest.mark.parametrize(
    "edit",
    [
        lambda m: m["spec"]["headGroupSpec"].update(rayStartParam={}),  # typo of a key
        lambda m: m["spec"]["workerGroupSpecs"][0].update(replicas="two"),  # wrong type
        lambda m: m["spec"]["workerGroupSpecs"][0]["template"]["spec"]["containers"][0].update(
            resource={}  # typo inside the pod template
        ),
    ],
)
def test_a_broken_manifest_is_refused(validator, edit):
    doc = copy.deepcopy(manifest())
    edit(doc)
    assert errors(validator, doc)


def test_the_cluster_follows_the_project_rules():
    """Ray's pin, a head without work, the dashboard on loopback, no usage reports."""
    spec = manifest()["spec"]
    pinned = re.search(r'"ray\[data\]==([\d.]+)"', (DEPLOY.parent / "pyproject.toml").read_text())
    assert spec["rayVersion"] == pinned[1]
    head = spec["headGroupSpec"]["rayStartParams"]
    assert head["num-cpus"] == "0" and head["dashboard-host"] == "127.0.0.1"
    groups = [spec["headGroupSpec"], *spec["workerGroupSpecs"]]
    for group in groups:
        for container in group["template"]["spec"]["containers"]:
            env = {e["name"]: e.get("value") for e in container.get("env", [])}
            assert env.get("RAY_USAGE_STATS_ENABLED") == "0", container["name"]
