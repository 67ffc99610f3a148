"""The one Dagster Definitions object: every asset, check, sensor, schedule and resource."""

import os

from dagster import Definitions, in_process_executor, multiprocess_executor

from assets.automation import nightly_refresh, refresh_job, score_change_sensor
from assets.corpus import raw_corpus
from assets.orderings import ORDERING_ASSETS
from assets.probes import probe_report, probe_runs
from assets.publish import PUBLISH_ASSETS
from assets.resources import build_resources
from assets.scores import sample_scores, score_coverage
from assets.shards import SHARD_ASSETS


def executor_from_env():
    """in_process (default: one process, libraries imported once, fastest on a laptop) or
    multiprocess (steps fan out over CURATION_MAX_PROCESSES); on Kubernetes the Helm values
    choose k8s_job_executor."""
    kind = os.environ.get("CURATION_EXECUTOR", "in_process")
    if kind == "multiprocess":
        limit = int(os.environ.get("CURATION_MAX_PROCESSES", "2"))
        return multiprocess_executor.configured({"max_concurrent": limit})
    if kind == "k8s":
        from dagster_k8s import k8s_job_executor

        return k8s_job_executor
    return in_process_executor


def build_definitions(resources: dict | None = None, executor=None) -> Definitions:
    """Build the definitions; tests pass their own resources (a temp root, a small corpus)."""
    assets = [raw_corpus, sample_scores, probe_runs, probe_report]
    checks = [score_coverage]
    for pair in (*ORDERING_ASSETS.values(), *SHARD_ASSETS.values()):
        assets.append(pair[0])
        checks.append(pair[1])
    assets.extend(PUBLISH_ASSETS.values())
    return Definitions(
        assets=assets,
        asset_checks=checks,
        jobs=[refresh_job],
        sensors=[score_change_sensor],
        schedules=[nightly_refresh],
        resources=resources or build_resources(),
        executor=executor or executor_from_env(),
    )


defs = build_definitions()
