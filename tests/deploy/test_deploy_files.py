"""The deployment files parse, validate against Dagster's instance schema and hold no secrets."""

import re
import shutil
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


@pytest.mark.parametrize("name", ["dagster.yaml", "dagster.postgres-local.yaml"])
def test_instance_configs_validate(name, tmp_path):
    from dagster._core.instance.config import dagster_instance_config

    shutil.copy(DEPLOY / name, tmp_path / "dagster.yaml")
    config, _ = dagster_instance_config(str(tmp_path))
    db = config["storage"]["postgres"]["postgres_db"]
    assert all(isinstance(db[k], dict) and "env" in db[k] for k in ("hostname", "password"))


def test_k8s_run_launcher_config_is_valid(monkeypatch):
    from dagster._config import process_config

    for name, value in [
        ("DAGSTER_K8S_NAMESPACE", "curation"),
        ("DAGSTER_K8S_SERVICE_ACCOUNT", "curation-dagster"),
        ("DAGSTER_K8S_INSTANCE_CONFIG_MAP", "curation-dagster-instance"),
        ("DAGSTER_HOME", "/opt/dagster/dagster_home"),
    ]:
        monkeypatch.setenv(name, value)
    from dagster_k8s import K8sRunLauncher

    launcher = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())["run_launcher"]
    assert launcher["class"] == "K8sRunLauncher"
    result = process_config(K8sRunLauncher.config_type(), launcher["config"])
    assert result.success, result.errors


def test_helm_values_use_secrets_not_literals():
    values = yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())
    assert values["generatePostgresqlPasswordSecret"] is False
    assert "postgresqlPassword" not in values["postgresql"]
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    deployment = values["dagster-user-deployments"]["deployments"][0]
    assert "definitions.py" in deployment["dagsterApiGrpcArgs"]
    text = "\n".join(p.read_text() for p in DEPLOY.rglob("*") if p.is_file())
    assert not re.search(r"AKIA[0-9A-Z]{16}", text), "an AWS access key id is committed"
    assert not re.search(r"(?i)(password|secret_access_key)\s*[:=]\s*['\"]?\w{6,}", text)


def test_dockerfile_installs_the_lock_offline_as_non_root():
    text = (DEPLOY / "Dockerfile").read_text()
    assert text.startswith("#") and "ARG BASE_IMAGE=python:3.11-slim" in text
    assert "FROM ${BASE_IMAGE}" in text
    assert "--no-index --find-links /wheels" in text and "pip check" in text
    users = re.findall(r"^USER (\S+)", text, flags=re.M)
    assert users and users[-1] not in ("root", "0")
    wheelhouse = (DEPLOY / "wheelhouse.sh").read_text()
    assert '-c "$ROOT/requirements.lock"' in wheelhouse and "+cpu" in wheelhouse
