"""The one Dagster Definitions object: every asset, check, sensor, schedule and resource."""

import os

from dagster import Definitions, in_process_executor, multiprocess_executor

from assets.automation import nightly_refresh, refresh_job, score_change_sensor
from assets.corpus import raw_corpus
from assets.orderings import build_ordering_asset
from assets.probes import build_probe_assets
from assets.publish import build_publish_asset
from assets.resources import build_resources
from assets.scores import sample_scores, score_coverage
from assets.shards import build_shards_asset
from curation.ordering import METHODS


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


def methods_from_env() -> list[str]:
    """Orderings this deployment computes (CURATION_METHODS=random,str,saw); all by default."""
    chosen = [m.strip() for m in os.environ.get("CURATION_METHODS", "").split(",") if m.strip()]
    unknown = sorted(set(chosen) - set(METHODS))
    if unknown:
        raise ValueError(f"CURATION_METHODS names unknown method(s) {unknown}; known: {METHODS}")
    return chosen or list(METHODS)


def build_definitions(
    resources: dict | None = None, executor=None, methods: list[str] | None = None
) -> Definitions:
    """Build the definitions; tests pass their own resources (a temp root, a small corpus)."""
    methods = methods or methods_from_env()
    assets = [raw_corpus, sample_scores, *build_probe_assets(methods)]
    checks = [score_coverage]
    for method in methods:
        for build in (build_ordering_asset, build_shards_asset):
            asset_def, check_def = build(method)
            assets.append(asset_def)
            checks.append(check_def)
        assets.append(build_publish_asset(method))
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
