"""exports: a recipe's published version in the formats trainers read (opt-in per recipe).

A recipe lists ``exports`` in curation.yaml (token shards, Megatron ``.bin/.idx``, MosaicML
MDS, Hugging Face ``datasets``); each is written once per published version, in the
published order, under ``<root>/exports/<dataset>/<version>/``. Recipes without exports
are not materialized: the UI shows them missing, not green with nothing in them. The
library does the work (curation.reader.export).
"""

from dagster import AssetExecutionContext, AssetMaterialization, asset

from assets.metadata import CODE_VERSION, OWNERS, kinds_for, location, table_value
from assets.partitions import SINGLE_RUN, recipe_partitions
from assets.resources import ProjectResource
from curation.reader.export.spec import run_exports
from curation.refs import VersionRef


def build_export_assets(project):
    partitions = recipe_partitions(project)

    @asset(
        partitions_def=partitions,
        backfill_policy=SINGLE_RUN,
        group_name="published",
        description="Opt-in exports of each recipe's published version (tokens, Megatron, "
        "MDS, HF datasets), in the published order. Only recipes that list exports in "
        "curation.yaml materialize; the others stay unmaterialized (nothing to export).",
        kinds=kinds_for(project.storage.root),
        owners=OWNERS,
        code_version=CODE_VERSION,
        output_required=False,
    )
    def exports(context: AssetExecutionContext, project: ProjectResource, published: dict):
        proj = project.project
        skipped = []
        for name in context.partition_keys:
            specs = proj.recipe(name).exports
            if not specs:
                skipped.append(name)
                continue
            ref: VersionRef = published[name]
            root = proj.path("exports", ref.dataset, ref.version)
            done = run_exports(ref.uri, root, list(specs))
            for item in done:
                context.log.info(
                    f"{name}: {item['format']} export of {ref.version} at {item['uri']}"
                )
            yield AssetMaterialization(
                asset_key=context.asset_key,
                partition=name,
                metadata={
                    "recipe": name,
                    "dataset": ref.dataset,
                    "version": ref.version,
                    "formats": ", ".join(d["format"] for d in done),
                    "exports": table_value(
                        [{"format": d["format"], "uri": d["uri"]} for d in done]
                    ),
                    "location": location(root),
                },
            )
        if skipped:
            context.log.info(f"no exports in curation.yaml for {', '.join(skipped)}: skipped")

    return exports
