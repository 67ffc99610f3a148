"""A complete, successful Dagster run (all seven methods, tiny probes): ~1 minute, so slow.

It checks what only a full run can show: every published version verifies through the
``curation datasets verify`` console script, no credential reaches the run's event log,
metadata or files, and that the asset layer puts no run-specific values into manifests.
"""

import json
from pathlib import Path

import dagster
import pytest

from tests.factories import write_random_scores as write_scores
from tests.reliability.helpers import cli_verify
from tests.reliability.test_pipeline_bad_input import (
    CANARY_KEY_ID,
    CANARY_PG_PW,
    CANARY_SECRET,
    leaked,
    run_pipeline,
)

pytestmark = pytest.mark.slow
CANARIES = [CANARY_KEY_ID, CANARY_SECRET, CANARY_PG_PW]


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("full-run")
    patch = pytest.MonkeyPatch()
    patch.setenv("AWS_ACCESS_KEY_ID", CANARY_KEY_ID)
    patch.setenv("AWS_SECRET_ACCESS_KEY", CANARY_SECRET)
    patch.setenv("DAGSTER_PG_PASSWORD", CANARY_PG_PW)
    from tests.factories import corpus_table

    scores = write_scores(tmp_path / "scores.parquet", corpus_table(60).column("id").to_pylist())
    try:
        with dagster.instance_for_test() as instance:
            result = run_pipeline(tmp_path, scores, instance)
            yield {
                "result": result,
                "instance": instance,
                "tmp": tmp_path,
                "root": tmp_path / "root" / "published",
            }
    finally:
        patch.undo()


def manifests(root: Path) -> list[Path]:
    return sorted(root.glob("*/*/manifest.json"))


def test_full_run_publishes_every_method_and_each_verifies(full_run):
    assert full_run["result"].success
    found = manifests(full_run["root"])
    assert len(found) == 7
    for manifest in found:
        dataset, version = manifest.parent.parent.name, manifest.parent.name
        proc = cli_verify(str(full_run["root"]), dataset, version)
        assert proc.returncode == 0 and f"{dataset}/{version}: ok" in proc.stdout, proc.stdout


def test_full_run_leaks_no_credentials(full_run):
    instance, run_id = full_run["instance"], full_run["result"].run_id
    dirs = [Path(instance.root_directory), full_run["tmp"]]
    assert leaked(instance, run_id, dirs, CANARIES) == []


def test_pipeline_manifests_hold_no_run_specific_values(full_run):
    run_id = full_run["result"].run_id
    for manifest in manifests(full_run["root"]):
        text = manifest.read_text()
        assert run_id not in text, f"{manifest}: holds this run's id"
        assert "wall_s" not in json.dumps(json.loads(text).get("extra", {})), manifest
