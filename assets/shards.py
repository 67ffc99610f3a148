"""shards: each recipe's documents in order as parquet shards, written out of core.

The write fans out in a bounded number of steps per recipe, whatever the number of
documents: scatter per (recipe, group of source files), write per (recipe, group of
shards), at most ``run.shard_steps`` of each; every step uses the cores the memory setting
leaves room for. The multiprocess, Docker or Kubernetes executors run steps in parallel; the
in-process executor runs them in turn. Steps share a plan saved under the output directory
(rows, inverse positions, scores), so no step holds more than its share.
"""

from dagster import (
    AssetCheckExecutionContext,
    AssetExecutionContext,
    AssetIn,
    DynamicOut,
    DynamicOutput,
    OpExecutionContext,
    Out,
    Output,
    asset_check,
    graph_asset,
    op,
)

from assets.checks import recipe_check_results
from assets.metadata import (
    CODE_VERSION,
    OWNERS,
    add_partition_metadata,
    kinds_for,
    location,
    table_schema,
)
from assets.partitions import SINGLE_RUN, mapping_key, recipe_partitions
from assets.resources import ProjectResource
from curation.engines import engine_session
from curation.refs import CorpusRef, OrderingRef, ScoresRef, ShardSetRef
from curation.stages.shards import (
    check_shard_sets,
    commit_shard_set,
    plan_shard_set,
    scatter_unit,
    shard_schema,
    write_on_engine,
    write_unit,
)


def build_shard_ops():
    @op(out={"plans": Out(), "files": DynamicOut()})
    def shards_plan(
        context: OpExecutionContext,
        project: ProjectResource,
        orderings: dict,
        raw_corpus: CorpusRef,
        sample_scores: ScoresRef,
    ):
        proj = project.project
        plans = {}
        with engine_session(proj):  # run.engine: ray writes every recipe here, in this step
            for name, ref in orderings.items():
                plan = plan_shard_set(proj, ref, raw_corpus, sample_scores)
                context.log.info(
                    f"{name}: {'reusing committed shards' if plan.reused else 'writing'} "
                    f"{plan.shards} shard(s) on the {plan.engine} engine -> {plan.out}"
                )
                plans[name] = write_on_engine(proj, plan, context.log.info)
        yield Output(plans, "plans")
        for name, plan in plans.items():
            for index in range(plan.scatter_units):
                yield DynamicOutput(
                    [name, index], output_name="files", mapping_key=mapping_key(name, index)
                )

    @op
    def shards_scatter(plans: dict, item: list) -> list:
        name, index = item
        scatter_unit(plans[name], index)
        return item

    @op(out=DynamicOut())
    def shards_split(plans: dict, scattered: list):
        for name, plan in plans.items():
            for index in range(plan.write_units):
                yield DynamicOutput([name, index], mapping_key=mapping_key(name, index))

    @op
    def shards_write(plans: dict, item: list) -> list:
        name, index = item
        return [name, write_unit(plans[name], index)]

    @op
    def shards_commit(
        context: AssetExecutionContext, plans: dict, written: list, orderings: dict
    ) -> dict:
        by_recipe: dict[str, list] = {name: [] for name in plans}
        for name, infos in written:
            by_recipe[name].extend(infos)
        out = {}
        for name, plan in plans.items():
            ref = commit_shard_set(plan, by_recipe[name], orderings[name])
            out[name] = ref
            add_partition_metadata(
                context,
                {
                    "dagster/row_count": ref.rows,
                    "dagster/column_schema": table_schema(shard_schema(ref)),
                    "recipe": name,
                    "shards": len(ref.shards),
                    "bytes": ref.bytes,
                    "ordering_key": ref.ordering.key,
                    "reused": ref.reused,
                    "engine": ref.engine,
                    "location": location(ref.uri),
                },
                name,
            )
        return out

    return shards_plan, shards_scatter, shards_split, shards_write, shards_commit


def build_shard_assets(project):
    partitions = recipe_partitions(project)
    plan_op, scatter_op, split_op, write_op, commit_op = build_shard_ops()

    @graph_asset(
        partitions_def=partitions,
        backfill_policy=SINGLE_RUN,
        group_name="shards",
        description="Each recipe's documents in order as parquet shards, written out of core "
        "in a bounded number of steps (scatter per group of source files, write per group of "
        "shards).",
        kinds=kinds_for(project.storage.root),
        owners=OWNERS,
        code_version=CODE_VERSION,
        ins={
            "orderings": AssetIn("orderings"),
            "raw_corpus": AssetIn("raw_corpus"),
            "sample_scores": AssetIn("sample_scores"),
        },
    )
    def shards(orderings, raw_corpus, sample_scores):
        plans, files = plan_op(orderings, raw_corpus, sample_scores)
        scattered = files.map(lambda f: scatter_op(plans, f)).collect()
        written = split_op(plans, scattered).map(lambda i: write_op(plans, i)).collect()
        return commit_op(plans, written, orderings)

    @asset_check(
        asset=shards,
        name="shard_integrity",
        blocking=True,
        partitions_def=partitions,
        additional_ins={"orderings": AssetIn("orderings"), "raw_corpus": AssetIn("raw_corpus")},
        description="GX: shard row counts, ids and id+text content, in order, match the "
        "ordering and the corpus version it names.",
    )
    def shard_integrity(
        context: AssetCheckExecutionContext, shards: dict, orderings: dict, raw_corpus: CorpusRef
    ):
        outcomes = check_shard_sets(raw_corpus, orderings, shards)
        yield from recipe_check_results(context, outcomes)

    return shards, shard_integrity


__all__ = ["OrderingRef", "ShardSetRef", "build_shard_assets"]
