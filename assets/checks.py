"""Turn a GX CheckOutcome into a Dagster AssetCheckResult, and read past check results.

Blocking checks stop downstream steps only inside one run; publishing therefore also asks
the instance for the latest evaluation of every check guarding what it publishes.
"""

from collections.abc import Sequence

from dagster import AssetCheckKey, AssetCheckResult, AssetCheckSeverity, AssetKey, MetadataValue
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from curation.quality import CheckOutcome, outcome_to_dagster_metadata


def to_check_result(outcome: CheckOutcome) -> AssetCheckResult:
    metadata = {
        key: (MetadataValue.json(value) if isinstance(value, (dict, list)) else value)
        for key, value in outcome_to_dagster_metadata(outcome).items()
        if value is not None
    }
    return AssetCheckResult(
        passed=outcome.passed,
        severity=AssetCheckSeverity.ERROR,
        description=outcome.description[:2000],
        metadata=metadata,
    )


def latest_check_verdicts(instance, check_keys: Sequence[AssetCheckKey]) -> dict[str, dict]:
    """For each check: did its latest evaluation pass, and for which materialization?

    A check that never ran, is still planned, or evaluated an older materialization than
    the asset's latest counts as not passed: publishing must see a verdict on what it ships.
    """
    storage = instance.event_log_storage
    records = storage.get_latest_asset_check_execution_by_key(list(check_keys))
    verdicts: dict[str, dict] = {}
    for key in check_keys:
        name = f"{key.asset_key.to_user_string()}:{key.name}"
        record = records.get(key)
        latest = instance.get_latest_materialization_event(key.asset_key)
        verdict = {"passed": False, "blocking": True, "description": "check has not run"}
        if record is not None and record.status != AssetCheckExecutionRecordStatus.PLANNED:
            evaluation = record.evaluation
            target = getattr(evaluation, "target_materialization_data", None)
            current = latest is not None and target is not None and target.run_id == latest.run_id
            verdict = {
                "passed": bool(evaluation and evaluation.passed) and current,
                "blocking": True,
                "run_id": record.run_id,
                "description": ((evaluation.description or "") if evaluation else "")
                if current
                else "check evaluated an older materialization",
            }
        verdicts[name] = verdict
    return verdicts


def check_key(asset: str, name: str) -> AssetCheckKey:
    return AssetCheckKey(AssetKey(asset), name)
