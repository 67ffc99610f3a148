"""Kubernetes deployment files: the Helm values against the official chart's schema, and the
run/step job configs against dagster-k8s's own config schemas and the Job it builds from them.
No cluster is needed; a cluster is where deploy/README.md goes from here."""

import copy
import json
import re
from pathlib import Path

import pytest
import yaml

from tests.deploy.k8s_schema import CHART_DIR, chart_errors

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
VALUES = yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())
EXECUTOR = yaml.safe_load((DEPLOY / "k8s" / "executor.yaml").read_text())


def test_vendored_chart_schema_names_its_source():
    source = (CHART_DIR / "SOURCE.md").read_text()
    assert "dagster-io/dagster" in source and "helm/dagster/values.schema.json" in source
    assert re.search(r"\b[0-9a-f]{40}\b", source), "the commit the schema was taken from"
    schema = json.loads((CHART_DIR / "values.schema.json").read_text())
    assert schema["title"] == "DagsterHelmValues" and len(schema["definitions"]) > 50


def test_helm_values_validate_against_the_chart_schema():
    assert chart_errors(VALUES) == []


@pytest.mark.parametrize(
    "path, value, message",
    [
        (["dagsterWebserver", "resources", "request"], {"cpu": "1"}, "'request' was unexpected"),
        (["runLauncher", "config", "k8sRunLauncher", "envSecrets"], [{"nam": "x"}], "'nam'"),
        (["dagsterDaemon", "runCoordinator", "type"], "Queued", "is not one of"),
        (["dagster-user-deployments", "deployments", 0, "port"], "3030", "is not of type"),
        (["runLauncher", "config", "k8sRunLauncher", "runK8sConfig", "podSpec"], {}, "podSpec"),
    ],
)
def test_schema_check_rejects_mistakes(path, value, message):
    """The validator is not vacuous: a typo in a chart key or a Kubernetes field fails."""
    bad = copy.deepcopy(VALUES)
    node = bad
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    errors = chart_errors(bad)
    assert errors and any(message in e for e in errors), errors


def test_secrets_come_from_the_secrets_the_readme_creates():
    readme = (DEPLOY / "README.md").read_text()
    created = set(re.findall(r"create secret generic ([\w-]+)", readme))
    used = {VALUES["global"]["postgresqlSecretName"]}
    deployment = VALUES["dagster-user-deployments"]["deployments"][0]
    used |= {s["name"] for s in deployment["envSecrets"]}
    used |= {s["name"] for s in VALUES["runLauncher"]["config"]["k8sRunLauncher"]["envSecrets"]}
    used |= {s["name"] for s in VALUES["dagsterDaemon"]["envSecrets"]}
    assert used <= created, sorted(used - created)
    assert VALUES["generatePostgresqlPasswordSecret"] is False
    assert "postgresqlPassword" not in VALUES["postgresql"]
    configmaps = {v["configMap"]["name"] for v in deployment["volumes"] if "configMap" in v}
    assert configmaps <= set(re.findall(r"create configmap ([\w-]+)", readme))


def test_run_launcher_config_validates_with_dagster_k8s():
    """The chart renders k8sRunLauncher into K8sRunLauncher's config; check it there too."""
    from dagster._config import process_config
    from dagster_k8s import K8sRunLauncher
    from dagster_k8s.job import UserDefinedDagsterK8sConfig
    from dagster_k8s.models import k8s_snake_case_dict
    from kubernetes.client import V1Container

    chart = VALUES["runLauncher"]["config"]["k8sRunLauncher"]
    run_k8s = chart["runK8sConfig"]
    container = k8s_snake_case_dict(V1Container, run_k8s["containerConfig"])
    config = {
        "instance_config_map": "curation-dagster-instance",
        "service_account_name": VALUES["serviceAccount"]["name"],
        "env_secrets": [s["name"] for s in chart["envSecrets"]],
        "run_k8s_config": {
            "container_config": container,
            "job_spec_config": {"ttl_seconds_after_finished": 86400},
        },
    }
    result = process_config(K8sRunLauncher.config_type(), config)
    assert result.success, result.errors
    parsed = UserDefinedDagsterK8sConfig.from_dict(result.value["run_k8s_config"])
    assert parsed.container_config["resources"]["requests"]["memory"] == "1Gi"


def _step_job(op_name: str | None):
    """The Job dagster-k8s submits for a step of this op: the executor's default step config
    merged with the op's own, exactly as its step handler merges them."""
    from dagster_k8s.container_context import K8sContainerContext
    from dagster_k8s.job import (
        DagsterK8sJobConfig,
        UserDefinedDagsterK8sConfig,
        construct_dagster_k8s_job,
    )

    context = K8sContainerContext(
        run_k8s_config=UserDefinedDagsterK8sConfig.from_dict(EXECUTOR["step_k8s_config"])
    )
    override = EXECUTOR["per_step_k8s_config"].get(op_name, {})
    context = context.merge(
        K8sContainerContext(run_k8s_config=UserDefinedDagsterK8sConfig.from_dict(override))
    )
    job_config = DagsterK8sJobConfig(
        job_image="registry.example.com/curation:0.1.0",
        dagster_home="/opt/dagster/dagster_home",
        instance_config_map="curation-dagster-instance",
    )
    return construct_dagster_k8s_job(
        job_config=job_config,
        args=["dagster", "api", "execute_step"],
        job_name=f"dagster-step-{op_name or 'other'}".replace("_", "-"),
        user_defined_k8s_config=context.run_k8s_config,
    )


def test_step_executor_config_validates_with_dagster_k8s():
    from dagster._config import process_config
    from dagster_k8s import k8s_job_executor

    result = process_config(k8s_job_executor.config_schema.config_type, EXECUTOR)
    assert result.success, result.errors


@pytest.mark.parametrize("op_name", [None, *EXECUTOR["per_step_k8s_config"]])
def test_each_step_kind_builds_a_valid_kubernetes_job(op_name):
    job = _step_job(op_name)  # builds kubernetes.client models: unknown keys raise here
    pod = job.spec.template.spec
    container = pod.containers[0]
    assert container.resources.requests["cpu"] and container.resources.limits["memory"]
    if op_name == "probe_train":
        assert container.resources.limits["nvidia.com/gpu"] == "1"
        assert pod.node_selector and pod.tolerations[0].key == "nvidia.com/gpu"
        assert container.image.endswith("-cuda")
    else:
        assert "nvidia.com/gpu" not in (container.resources.limits or {})
        assert pod.node_selector is None


def test_step_kinds_name_ops_of_the_refresh_job(monkeypatch):
    """per_step_k8s_config is keyed by op name: a renamed op would silently lose its sizing."""
    monkeypatch.setenv("CURATION_EXECUTOR", "in_process")
    from definitions import defs

    op_names = {
        op.name for job in defs.resolve_all_job_defs() for op in job.graph.iterate_op_defs()
    }
    missing = set(EXECUTOR["per_step_k8s_config"]) - op_names
    assert not missing, f"not ops of any job: {sorted(missing)}; ops: {sorted(op_names)}"


def test_k8s_executor_reads_the_step_config(monkeypatch):
    from assets.location import executor_from_env

    monkeypatch.setenv("CURATION_EXECUTOR", "k8s")
    monkeypatch.setenv("CURATION_K8S_EXECUTOR_CONFIG", str(DEPLOY / "k8s" / "executor.yaml"))
    executor = executor_from_env()
    assert executor.name == "k8s"
