"""GX outcomes as Dagster check results, and the verdicts publishing relies on.

Blocking checks stop downstream steps only inside one run, so publishing also asks the
instance for the verdict of every check guarding what it ships: the evaluation made in the
run that produced the materialization being published, and passed for that recipe.
"""

from collections.abc import Iterator, Mapping

from dagster import (
    AssetCheckEvaluation,
    AssetCheckExecutionContext,
    AssetCheckKey,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetKey,
    AssetRecordsFilter,
    DagsterEventType,
    MetadataValue,
    Output,
    TableColumn,
    TableRecord,
    TableSchema,
)
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)

from curation.quality import CheckOutcome, outcome_metadata

#: metadata of the one evaluation older runs made for all recipes (still read by ``verdict``)
PASSED, FAILED = "recipes_passed", "recipes_failed"
DESCRIPTION_CHARS = 2000


def _scalar(value) -> str | int | float | bool:
    if isinstance(value, (bool, int, float, str)):
        return value
    if value is None:
        return ""
    return str(value)[:200]


def expectations_table(outcome: CheckOutcome) -> MetadataValue:
    """Each expectation of a check as one row: what it asks, passed, how many rows broke it,
    what was observed and the first offenders (narrow: long values are cut)."""
    records = []
    for row in outcome.results:
        offending = row.get("offending") or []
        first = "; ".join(
            ", ".join(f"{k}={v!r}" for k, v in entry.items()) for entry in offending[:3]
        )
        records.append(
            TableRecord(
                {
                    "expectation": str(row.get("label", "?")),
                    "passed": bool(row.get("success")),
                    "unexpected_rows": int(row.get("unexpected_count") or 0),
                    "observed": _scalar(row.get("observed_value", ""))
                    if not isinstance(row.get("observed_value"), (dict, list))
                    else str(row.get("observed_value"))[:200],
                    "first_offenders": (first or str(row.get("exception") or ""))[:200],
                }
            )
        )
    return MetadataValue.table(
        records=records,
        schema=TableSchema(
            columns=[
                TableColumn("expectation", "string"),
                TableColumn("passed", "bool"),
                TableColumn("unexpected_rows", "int"),
                TableColumn("observed", "string"),
                TableColumn("first_offenders", "string"),
            ]
        ),
    )


def check_metadata(outcome: CheckOutcome) -> dict:
    """A check's details as native metadata: scalars as entries, expectations as a table;
    nothing repeated as a JSON blob."""
    flat = outcome_metadata(outcome)
    out: dict = {}
    for key, value in flat.items():
        if key in ("passed", "description", "results"):
            continue
        if isinstance(value, (bool, int, float, str)):
            out[key] = value
        elif isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
            out[key] = ", ".join(map(str, value)) or "none"
        elif value is not None:
            out[key] = MetadataValue.json(value)
    if outcome.results:
        out["expectations"] = expectations_table(outcome)
    return out


def to_check_result(outcome: CheckOutcome) -> AssetCheckResult:
    """One outcome (an unpartitioned asset)."""
    return AssetCheckResult(
        passed=outcome.passed,
        severity=AssetCheckSeverity.ERROR,
        description=outcome.description[:DESCRIPTION_CHARS],
        metadata=check_metadata(outcome),
    )


def _target(instance, asset_key: AssetKey, partition: str):
    """The materialization of ``partition`` an evaluation is about (the latest one: the step
    that produced it ran just before the check)."""
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=asset_key, asset_partitions=[partition]), limit=1
    ).records
    if not records:
        return None
    record = records[0]
    return AssetCheckEvaluationTargetMaterializationData(
        storage_id=record.storage_id, run_id=record.run_id, timestamp=record.timestamp
    )


def recipe_check_results(
    context: AssetCheckExecutionContext, outcomes: Mapping[str, CheckOutcome]
) -> Iterator:
    """One evaluation per recipe partition, so the UI shows one verdict per recipe (an
    ``AssetCheckResult`` of a range step carries no partition). A failed recipe fails the
    step after every recipe has its verdict, which keeps the check blocking."""
    (spec,) = context.check_specs
    for name, outcome in outcomes.items():
        yield AssetCheckEvaluation(
            asset_key=spec.asset_key,
            check_name=spec.name,
            passed=outcome.passed,
            metadata=check_metadata(outcome),
            target_materialization_data=_target(context.instance, spec.asset_key, name),
            severity=AssetCheckSeverity.ERROR,
            description=outcome.description[:DESCRIPTION_CHARS],
            blocking=spec.blocking,
            partition=name,
        )
    yield Output(None, output_name=context.op_def.output_defs[0].name)


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


def _evaluation_in_run(instance, key: AssetCheckKey, partition: str | None, run_id: str):
    """This run's evaluation of ``key`` for ``partition`` (or the one evaluation an older
    run made for all recipes, which names them in its metadata)."""
    shared = None
    for entry in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = entry.dagster_event.event_specific_data
        if evaluation.asset_key != key.asset_key or evaluation.check_name != key.name:
            continue
        if evaluation.partition == partition:
            return evaluation
        if evaluation.partition is None:
            shared = evaluation
    return shared


def verdict(instance, key: AssetCheckKey, partition: str | None, run_id: str) -> dict:
    """Did ``key`` pass, for ``partition``, on the materialization being published?"""
    producing = _producing_run(instance, key.asset_key, partition, run_id)
    evaluation = _evaluation_in_run(instance, key, partition, producing) if producing else None
    if evaluation is None:
        return {"passed": False, "description": "check has not run on this materialization"}
    metadata = evaluation.metadata or {}
    if evaluation.partition is None and partition is not None and PASSED in metadata:
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
