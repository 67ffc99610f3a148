"""The code location: the Dagster Definitions of one project file (curation.yaml).

One node per stage; recipes are partitions of each per-recipe stage, so the graph does not
grow with the recipe list.
"""

import os

from dagster import Definitions, in_process_executor, multiprocess_executor

from assets.automation import build_automation
from assets.corpus import build_corpus_asset
from assets.exports import build_export_assets
from assets.orderings import build_ordering_assets
from assets.probes import build_probe_assets
from assets.publish import build_publish_assets
from assets.quiet import our_dagster_features
from assets.resources import ProjectResource, build_resources
from assets.scores import build_scores_assets
from assets.shards import build_shard_assets
from curation.project import Project, load_project


def executor_from_env():
    """in_process (default: one process, libraries imported once, fastest on a laptop) or
    multiprocess (steps fan out over CURATION_MAX_PROCESSES); on Kubernetes the Helm values
    choose k8s_job_executor."""
    kind = os.environ.get("CURATION_EXECUTOR", "in_process")
    if kind == "multiprocess":
        limit = int(os.environ.get("CURATION_MAX_PROCESSES", "2"))
        return multiprocess_executor.configured({"max_concurrent": limit})
    if kind == "docker":  # each step in its own container (deploy/compose.yaml)
        from dagster_docker import docker_executor

        limit = int(os.environ.get("CURATION_MAX_PROCESSES", "2"))
        return docker_executor.configured({"max_concurrent": limit})
    if kind == "k8s":
        import yaml
        from dagster_k8s import k8s_job_executor

        path = os.environ.get("CURATION_K8S_EXECUTOR_CONFIG")  # per-step-kind pod sizes
        if path:
            with open(path) as f:
                return k8s_job_executor.configured(yaml.safe_load(f))
        return k8s_job_executor
    return in_process_executor


def build_definitions(
    project: Project | None = None, resource: ProjectResource | None = None, executor=None
) -> Definitions:
    """Definitions for one project; tests pass their own (a temp root, a small corpus)."""
    if project is None:
        project = load_project()
        resource = resource or ProjectResource()
    with our_dagster_features():
        return _definitions(project, resource, executor)


def _definitions(project: Project, resource: ProjectResource | None, executor) -> Definitions:
    raw_corpus = build_corpus_asset(project)
    sample_scores, score_coverage = build_scores_assets(project)
    orderings, ordering_invariants = build_ordering_assets(project)
    shards, shard_integrity = build_shard_assets(project)
    probe_runs, probe_report = build_probe_assets(project)
    published = build_publish_assets(project)
    jobs, sensors, schedules = build_automation(project)
    return Definitions(
        assets=[raw_corpus, sample_scores, orderings, shards, probe_runs, probe_report, published]
        + [build_export_assets(project)],
        asset_checks=[score_coverage, ordering_invariants, shard_integrity],
        jobs=jobs,
        sensors=sensors,
        schedules=schedules,
        resources=build_resources(project, resource),
        executor=executor or executor_from_env(),
    )
