"""The real Dagster graph on a corrupted score table: the run fails with a message naming the
problem, and no version exists under ``<root>/published``.

Each run also carries canary credentials in its environment; its event log, asset metadata,
compute logs and every file it wrote are scanned for them and for secret-looking strings.
"""

from pathlib import Path

import dagster
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.ordering.engine import METHODS
from tests.factories import corpus_table, make_project
from tests.graph import run_graph
from tests.reliability.helpers import find_secrets

CANARY_KEY_ID = "AKIA" + "RELIABCANARY0042"
CANARY_SECRET = "canary" + "SecretValue/0123456789abcdefghijKLMNOP"
CANARY_PG_PW = "canary" + "PgPassword42"  # fake; named so the scan of this file stays clean


@pytest.fixture
def canary_env(monkeypatch) -> list[str]:
    """Credentials that must never show up anywhere a run writes."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", CANARY_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CANARY_SECRET)
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", CANARY_PG_PW)
    return [CANARY_KEY_ID, CANARY_SECRET, CANARY_PG_PW]


def run_pipeline(tmp_path: Path, scores_uri: str, instance):
    """Every method as a recipe (tiny probes on two), through the real definitions."""
    corpus = tmp_path / "corpus.parquet"
    pq.write_table(corpus_table(60), corpus)
    recipes = [{"name": m, "method": m, "probe": m in ("random", "str")} for m in METHODS]
    project = make_project(
        tmp_path / "root",
        str(corpus),
        scores_uri,
        recipes=recipes,
        storage={"root": str(tmp_path / "root"), "dataset_prefix": "rel"},
    )
    return run_graph(instance, project)


def published_anything(root: Path) -> list[str]:
    published = root / "published"
    return sorted(str(p.relative_to(root)) for p in published.rglob("manifest.json")) + (
        [str(p) for p in published.rglob("latest.json")] if published.exists() else []
    )


def leaked(instance, run_id: str, dirs: list[Path], canaries: list[str]) -> list[str]:
    """Canaries or secret-looking strings in the run's event log (messages and metadata)
    or in any file under ``dirs`` (instance storage, compute logs, data root)."""
    found = []
    for entry in instance.all_logs(run_id):
        text = dagster.serialize_value(entry)
        found += [f"event log: canary {c[:8]}…" for c in canaries if c in text]
        found += [f"event log: {hit}" for hit in find_secrets(text)]
    for directory in dirs:
        for path in (p for p in directory.rglob("*") if p.is_file()):
            data = path.read_bytes()
            found += [f"{path}: canary {c[:8]}…" for c in canaries if c.encode() in data]
    return found


def scores_with_problems(path: Path) -> str:
    """NaN for one id, a row for an unknown id, one corpus id missing."""
    ids = corpus_table(60).column("id").to_pylist()
    values = np.random.default_rng(0).random(60)
    values[3] = np.nan
    ids = ids[:59] + ["doc-999999"]
    pq.write_table(pa.table({"id": ids, "quality": values}), path)
    return str(path)


def test_corrupted_scores_fail_the_blocking_check_nothing_published(tmp_path, canary_env):
    scores = scores_with_problems(tmp_path / "scores.parquet")
    with dagster.instance_for_test() as instance:
        result = run_pipeline(tmp_path, scores, instance)
        assert not result.success
        checks = [
            e.event_specific_data
            for e in result.all_events
            if e.event_type_value == "ASSET_CHECK_EVALUATION"
        ]
        coverage = [c for c in checks if c.check_name == "score_coverage"]
        assert len(coverage) == 1 and not coverage[0].passed
        description = coverage[0].description
        assert "doc-000003" in description and "doc-999999" in description, description
        assert "doc-000059" in description, description
        materialized = {
            e.asset_key.to_user_string()
            for e in result.all_events
            if e.event_type_value == "ASSET_MATERIALIZATION"
        }
        assert materialized == {"raw_corpus", "sample_scores"}
        assert published_anything(tmp_path / "root") == []
        assert (
            leaked(instance, result.run_id, [Path(instance.root_directory), tmp_path], canary_env)
            == []
        )


def test_truncated_score_file_fails_the_run_naming_it_nothing_published(tmp_path, canary_env):
    good = tmp_path / "good.parquet"
    scores_with_problems(good)
    data = good.read_bytes()
    truncated = tmp_path / "scores.parquet"
    truncated.write_bytes(data[: len(data) // 2])
    with dagster.instance_for_test() as instance:
        result = run_pipeline(tmp_path, str(truncated), instance)
        assert not result.success
        failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
        assert [e.step_key for e in failures] == ["sample_scores"]
        error = failures[0].event_specific_data.error.to_string()
        assert "unreadable" in error and "scores.parquet" in error
        assert "corrupt or truncated parquet" in error
        assert published_anything(tmp_path / "root") == []
        assert (
            leaked(instance, result.run_id, [Path(instance.root_directory), tmp_path], canary_env)
            == []
        )


def test_leak_scan_finds_a_planted_canary(tmp_path):
    """The scan above can fail: a canary written to a file is found."""
    (tmp_path / "log.txt").write_text(f"connecting with {CANARY_SECRET}")
    with dagster.instance_for_test() as instance:
        assert leaked(instance, "no-such-run", [tmp_path], [CANARY_SECRET]) != []
