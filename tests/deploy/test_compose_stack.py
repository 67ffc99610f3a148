"""The Docker stack's files agree with each other and with dagster-docker's config schemas.

The stack itself runs in ``deploy/test.sh`` (minutes, needs a Docker engine); these checks catch
in a second what would otherwise fail only there: a variable the run launcher forwards but the
daemon lacks, a container context that is not valid JSON, a service off the host network.
"""

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
STACK_ENV = {  # what deploy/stack.sh exports
    "DAGSTER_PG_PASSWORD": "x",
    "CURATION_IMAGE": "curation:test",
    "CURATION_PG_IMAGE": "curation-postgres:test",
    "DOCKER_GID": "105",
    "CURATION_STACK": "curation-test",
}


def substitute(text: str, env: dict) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?error}`` interpolation."""

    def one(match: re.Match) -> str:
        name, op, arg = match["name"], match["op"], match["arg"] or ""
        value = env.get(name, "")
        if op == ":?" and not value:
            raise KeyError(f"compose would stop: {name} unset ({arg})")
        return value or (arg if op == ":-" else "")

    return re.sub(r"\$\{(?P<name>\w+)(?:(?P<op>:-|:\?)(?P<arg>[^}]*))?\}", one, text)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(substitute((DEPLOY / "compose.yaml").read_text(), STACK_ENV))


def test_every_service_is_on_the_host_network_on_loopback(compose):
    services = compose["services"]
    assert set(services) == {"postgres", "s3", "codeserver", "webserver", "daemon"}
    for name, service in services.items():
        assert service["network_mode"] == "host", name
        assert "ports" not in service, name
    commands = " ".join(" ".join(s.get("command", [])) for s in services.values())
    assert "0.0.0.0" not in commands
    assert commands.count("127.0.0.1") >= 3  # s3, grpc, webserver bind loopback


def test_required_variables_stop_compose_when_missing():
    with pytest.raises(KeyError, match="DOCKER_GID"):
        substitute((DEPLOY / "compose.yaml").read_text(), {**STACK_ENV, "DOCKER_GID": ""})


def test_daemon_sets_every_variable_the_run_launcher_forwards(compose):
    """DockerRunLauncher reads each name in env_vars from the daemon's environment and fails the
    launch when one is unset; run containers pass them on to step containers."""
    launcher = yaml.safe_load((DEPLOY / "compose" / "dagster.yaml").read_text())["run_launcher"]
    forwarded = set(launcher["config"]["env_vars"])
    daemon_env = set(compose["services"]["daemon"]["environment"])
    assert forwarded <= daemon_env, sorted(forwarded - daemon_env)
    curation_vars = {v for v in daemon_env if v.startswith(("CURATION_", "DAGSTER_PG_", "AWS_"))}
    assert curation_vars <= forwarded | {"CURATION_GRPC_PORT"}, sorted(curation_vars - forwarded)


def test_instance_and_launcher_config_validate(tmp_path, monkeypatch):
    from dagster._config import process_config
    from dagster._core.instance.config import dagster_instance_config
    from dagster_docker import DockerRunLauncher

    shutil.copy(DEPLOY / "compose" / "dagster.yaml", tmp_path / "dagster.yaml")
    config, _ = dagster_instance_config(str(tmp_path))
    assert config["run_launcher"]["class"] == "DockerRunLauncher"
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    monkeypatch.setenv("CURATION_IMAGE", "curation:test")
    result = process_config(DockerRunLauncher.config_type(), config["run_launcher"]["config"])
    assert result.success, result.errors
    assert result.value["network"] == "host"


def test_code_location_container_context_is_valid(compose):
    """Run containers get the Docker socket (to start step containers) and the stack label."""
    from dagster_docker.container_context import DockerContainerContext

    env = compose["services"]["codeserver"]["environment"]
    context = json.loads(env["DAGSTER_CONTAINER_CONTEXT"])
    parsed = DockerContainerContext.create_from_config(context)
    kwargs = parsed.container_kwargs
    assert kwargs["group_add"] == ["105"]
    assert "/var/run/docker.sock:/var/run/docker.sock" in kwargs["volumes"]
    assert kwargs["labels"] == {"curation.stack": "curation-test"}
    assert env["DAGSTER_CURRENT_IMAGE"] == "curation:test"


def test_workspace_points_at_the_code_server(compose, monkeypatch):
    from dagster._config import process_config
    from dagster._core.workspace.config_schema import WORKSPACE_CONFIG_SCHEMA

    workspace = yaml.safe_load((DEPLOY / "compose" / "workspace.yaml").read_text())
    monkeypatch.setenv("CURATION_GRPC_PORT", "14000")
    assert process_config(WORKSPACE_CONFIG_SCHEMA, workspace).success
    server = workspace["load_from"][0]["grpc_server"]
    command = compose["services"]["codeserver"]["command"]
    assert server["host"] == command[command.index("-h") + 1] == "127.0.0.1"
    assert server["location_name"] == command[command.index("--location-name") + 1]


def test_docker_executor_is_selected_by_environment(monkeypatch):
    from assets.location import executor_from_env

    monkeypatch.setenv("CURATION_EXECUTOR", "docker")
    assert executor_from_env().name == "docker"
    monkeypatch.setenv("CURATION_EXECUTOR", "in_process")
    assert executor_from_env().name != "docker"


def test_stack_project_file_is_valid_and_small():
    """The stack's recipes parse with the project's own loader; the probe budget stays tiny."""
    from assets.probes import probe_config
    from curation.project import load_project

    project = load_project(DEPLOY / "compose" / "curation.yaml", env={})
    assert project.recipe_names == ["random", "saw"]
    assert all(r.probe for r in project.recipes)
    probe = probe_config(project.probe)  # the overrides are fields the probe accepts
    assert probe.seeds == 1 and probe.token_budget <= 20_000
