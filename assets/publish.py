"""published: each recipe's dataset as an immutable, content-addressed version.

A dataset is named after its recipe. Publishing asks the instance for the verdict of every
check guarding what it ships (scores, ordering, shards) on the materialization being
published, and refuses unless each passed for this recipe. A run whose ordering was
overridden in the launchpad publishes under ``<dataset>--override-<hash>``, never moving
the recipe's ``latest``. An unchanged recipe republishes its existing version: ``latest``
does not move.
"""

from dagster import AssetCheckKey, AssetExecutionContext, AssetKey, Failure, MetadataValue, asset

from assets.checks import verdicts
from assets.metadata import (
    CODE_VERSION,
    OWNERS,
    add_partition_metadata,
    kinds_for,
    location,
    scalar_metadata,
    selection_metadata,
    table_schema,
)
from assets.partitions import SINGLE_RUN, recipe_partitions
from assets.resources import ProjectResource
from curation.publish import PublishRefused, read_manifest
from curation.refs import ShardSetRef, VersionRef
from curation.stages.publish import GUARDS, dataset_for, publish_shard_set

#: each guard's check key, and whether its asset is partitioned by recipe (scores are not)
GUARD_KEYS = {
    AssetCheckKey(AssetKey(asset), check): asset != "sample_scores"
    for asset, check in (guard.split(":") for guard in GUARDS)
}


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
        root = proj.published_root
        out, refused = {}, []
        for name in context.partition_keys:
            ref: ShardSetRef = shards[name]
            found = verdicts(context.instance, GUARD_KEYS, name, context.run_id)
            ordering = ref.ordering
            try:
                version = publish_shard_set(proj, ref, found)
            except PublishRefused as exc:
                context.log.error(f"{name}: refusing to publish {dataset_for(proj, ref)}: {exc}")
                refused.append(f"{name}: {exc}")
                continue
            dataset, moved = version.dataset, version.moved_latest
            context.log.info(
                f"{name}: {dataset} version {version.version} "
                + ("(latest moved)" if moved else "(unchanged: latest stays)")
            )
            out[name] = version
            manifest = read_manifest(root, dataset, version.version)
            add_partition_metadata(
                context,
                {
                    "dagster/row_count": version.rows,
                    "dagster/column_schema": table_schema(_schema_of(ref)),
                    "recipe": name,
                    "dataset": dataset,
                    "version": version.version,
                    "method": ordering.method,
                    "params": ordering.params,
                    "override": ordering.override,
                    **selection_metadata(ordering.selection),
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
