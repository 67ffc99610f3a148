"""GX outcomes as Dagster check results, and the verdicts publishing relies on.

Blocking checks stop downstream steps only inside one run, so publishing also asks the
instance for the verdict of every check guarding what it ships: the evaluation made in the
run that produced the materialization being published, and passed for that recipe.
"""

from collections.abc import Mapping

from dagster import (
    AssetCheckKey,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetKey,
    AssetRecordsFilter,
    DagsterEventType,
    MetadataValue,
)

from curation.quality import CheckOutcome, outcome_metadata

PASSED, FAILED = "recipes_passed", "recipes_failed"


def _wrap(metadata: Mapping) -> dict:
    return {
        k: (MetadataValue.json(v) if isinstance(v, (dict, list)) else v)
        for k, v in metadata.items()
        if v is not None
    }


def to_check_result(outcome: CheckOutcome) -> AssetCheckResult:
    """One outcome (an unpartitioned asset)."""
    return AssetCheckResult(
        passed=outcome.passed,
        severity=AssetCheckSeverity.ERROR,
        description=outcome.description[:2000],
        metadata=_wrap(outcome_metadata(outcome)),
    )


def recipes_check_result(outcomes: Mapping[str, CheckOutcome]) -> AssetCheckResult:
    """One evaluation for the recipes a step covered; passes only if every recipe passed."""
    failed = [r for r, o in outcomes.items() if not o.passed]
    lines = [f"{r}: {outcomes[r].description}" for r in failed] or [
        f"{r}: {o.description}" for r, o in outcomes.items()
    ]
    details = {r: outcome_metadata(o) for r, o in outcomes.items()}
    return AssetCheckResult(
        passed=not failed,
        severity=AssetCheckSeverity.ERROR,
        description="\n".join(lines)[:2000],
        metadata=_wrap(
            {
                PASSED: ",".join(r for r in outcomes if r not in failed),
                FAILED: ",".join(failed),
                "by_recipe": details,
            }
        ),
    )


def check_key(asset: str, name: str) -> AssetCheckKey:
    return AssetCheckKey(AssetKey(asset), name)


def _producing_run(instance, asset_key: AssetKey, partition: str | None, run_id: str) -> str | None:
    """The run whose materialization is current: this one if it materialized it, else the
    run of the latest materialization."""
    if _materialized_in_run(instance, asset_key, partition, run_id):
        return run_id  # a concurrent run's later materialization must not hide ours
    records = instance.fetch_materializations(
        AssetRecordsFilter(
            asset_key=asset_key, asset_partitions=[partition] if partition else None
        ),
        limit=1,
    ).records
    return records[0].run_id if records else None


def _materialized_in_run(instance, asset_key: AssetKey, partition: str | None, run_id: str) -> bool:
    for entry in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION):
        event = entry.dagster_event
        if event.asset_key == asset_key and (partition is None or event.partition == partition):
            return True
    return False


def _evaluation_in_run(instance, key: AssetCheckKey, run_id: str):
    for entry in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = entry.dagster_event.event_specific_data
        if evaluation.asset_key == key.asset_key and evaluation.check_name == key.name:
            return evaluation
    return None


def verdict(instance, key: AssetCheckKey, partition: str | None, run_id: str) -> dict:
    """Did ``key`` pass, for ``partition``, on the materialization being published?"""
    producing = _producing_run(instance, key.asset_key, partition, run_id)
    evaluation = _evaluation_in_run(instance, key, producing) if producing else None
    if evaluation is None:
        return {"passed": False, "description": "check has not run on this materialization"}
    metadata = evaluation.metadata or {}
    if PASSED in metadata:
        passed = partition in str(metadata[PASSED].value).split(",")
    else:
        passed = bool(evaluation.passed)
    return {"passed": passed, "description": (evaluation.description or "")[:500]}


def verdicts(
    instance, keys: Mapping[AssetCheckKey, bool], partition: str, run_id: str
) -> dict[str, dict]:
    """Verdicts by ``asset:check`` name; ``keys`` maps each check to whether its asset is
    partitioned by recipe."""
    out = {}
    for key, partitioned in keys.items():
        part = partition if partitioned else None
        out[f"{key.asset_key.to_user_string()}:{key.name}"] = verdict(instance, key, part, run_id)
    return out
