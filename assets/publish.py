"""published: each recipe's dataset as an immutable, content-addressed version.

A dataset is named after its recipe. Publishing asks the instance for the verdict of every
check guarding what it ships (scores, ordering, shards) on the materialization being
published, and refuses unless each passed for this recipe. A run whose ordering was
overridden in the launchpad publishes under ``<dataset>--override-<hash>``, never moving
the recipe's ``latest``. An unchanged recipe republishes its existing version: ``latest``
does not move.
"""

from dagster import AssetCheckKey, AssetExecutionContext, AssetKey, Failure, MetadataValue, asset

import curation
from assets.checks import verdicts
from assets.metadata import (
    CODE_VERSION,
    OWNERS,
    add_partition_metadata,
    kinds_for,
    location,
    scalar_metadata,
    table_schema,
)
from assets.partitions import SINGLE_RUN, recipe_partitions
from assets.resources import ProjectResource
from curation.publish import PublishRefused, publish_version, read_manifest, resolve_version
from curation.refs import ShardSetRef, VersionRef

GUARDS = {
    AssetCheckKey(AssetKey("sample_scores"), "score_coverage"): False,
    AssetCheckKey(AssetKey("orderings"), "ordering_invariants"): True,
    AssetCheckKey(AssetKey("shards"), "shard_integrity"): True,
}


def dataset_for(project, shards: ShardSetRef) -> str:
    """The recipe's dataset, or a name that says the ordering was overridden."""
    base = project.dataset_name(shards.recipe)
    if not shards.ordering.override:
        return base
    return f"{base}--override-{shards.ordering.key[:8]}"


def _current_latest(root: str, dataset: str) -> str | None:
    try:
        return resolve_version(root, dataset)
    except Exception:  # no version yet (or a damaged pointer, rebuilt by publishing)
        return None


def build_publish_assets(project):
    partitions = recipe_partitions(project)

    @asset(
        partitions_def=partitions,
        backfill_policy=SINGLE_RUN,
        group_name="published",
        description="Each recipe's ordered dataset as an immutable, content-addressed version.",
        kinds=kinds_for(project.storage.root),
        owners=OWNERS,
        code_version=CODE_VERSION,
    )
    def published(
        context: AssetExecutionContext, project: ProjectResource, shards: dict
    ) -> dict[str, VersionRef]:
        proj = project.project
        root = proj.path("published")
        out, refused = {}, []
        for name in context.partition_keys:
            ref: ShardSetRef = shards[name]
            found = verdicts(context.instance, GUARDS, name, context.run_id)
            dataset = dataset_for(proj, ref)
            ordering = ref.ordering
            lineage = {
                "recipe": name,
                "corpus_version": ordering.corpus_version,
                "score_version": ordering.score_version,
                "method": ordering.method,
                "params": ordering.params,
                "seed": ordering.params.get("seed"),
                "code_version": curation.__version__,
            }
            before = _current_latest(root, dataset)
            try:
                version = publish_version(
                    root,
                    dataset,
                    [s.path for s in ref.shards],
                    lineage,
                    metrics=ordering.metrics,
                    checks={k: {"passed": v["passed"], "blocking": True} for k, v in found.items()},
                    extra={"warnings": list(ordering.warnings)},
                )
            except PublishRefused as exc:
                context.log.error(f"{name}: refusing to publish {dataset}: {exc}")
                refused.append(f"{name}: {exc}")
                continue
            moved = before != version.version
            context.log.info(
                f"{name}: {dataset} version {version.version} "
                + ("(latest moved)" if moved else "(unchanged: latest stays)")
            )
            out[name] = VersionRef(
                dataset=dataset,
                version=version.version,
                uri=version.uri,
                root=root,
                recipe=name,
                rows=version.num_rows,
                moved_latest=moved,
            )
            manifest = read_manifest(root, dataset, version.version)
            add_partition_metadata(
                context,
                {
                    "dagster/row_count": version.num_rows,
                    "dagster/column_schema": table_schema(_schema_of(ref)),
                    "recipe": name,
                    "dataset": dataset,
                    "version": version.version,
                    "method": ordering.method,
                    "params": ordering.params,
                    "override": ordering.override,
                    "latest_moved": moved,
                    "location": location(version.uri),
                    "checks": MetadataValue.json(found),
                    "shards": len(manifest.get("shards", [])),
                    **scalar_metadata(ordering.metrics, "metric_"),
                },
                name,
            )
        if refused:
            raise Failure(
                description="refused to publish: " + "; ".join(refused),
                metadata={"refused": refused},
            )
        return out

    return published


def _schema_of(ref: ShardSetRef):
    from curation.stages.shards import shard_schema

    return shard_schema(ref)
