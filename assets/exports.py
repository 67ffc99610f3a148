"""exports: a recipe's published version in the formats trainers read (opt-in per recipe).

A recipe lists ``exports`` in curation.yaml (token shards, Megatron ``.bin/.idx``, MosaicML
MDS, Hugging Face ``datasets``); each is written once per published version, in the
published order, under ``<root>/exports/<dataset>/<version>/``. Recipes without exports
materialize as an empty list. The library does the work (curation.reader.export).
"""

from dagster import AssetExecutionContext, MetadataValue, asset

from assets.metadata import CODE_VERSION, OWNERS, add_partition_metadata, kinds_for, location
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
        "MDS, HF datasets), in the published order.",
        kinds=kinds_for(project.storage.root),
        owners=OWNERS,
        code_version=CODE_VERSION,
    )
    def exports(context: AssetExecutionContext, project: ProjectResource, published: dict) -> dict:
        proj = project.project
        out = {}
        for name in context.partition_keys:
            ref: VersionRef = published[name]
            specs = proj.recipe(name).exports
            root = proj.path("exports", ref.dataset, ref.version)
            done = run_exports(ref.uri, root, list(specs))
            for item in done:
                context.log.info(
                    f"{name}: {item['format']} export of {ref.version} at {item['uri']}"
                )
            out[name] = {"dataset": ref.dataset, "version": ref.version, "exports": done}
            md = {
                "recipe": name,
                "dataset": ref.dataset,
                "version": ref.version,
                "formats": [d["format"] for d in done],
                "exports": MetadataValue.json(done),
            }
            if done:
                md["location"] = location(root)
            add_partition_metadata(context, md, name)
        return out

    return exports
