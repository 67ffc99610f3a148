"""A small real asset graph for the Postgres instance test: ordering → ordered shards.

Partitioned by ordering method (as in the design); the job runs each step in its own
process (multiprocess executor), so it must be importable: ``reconstructable(shards_job)``.
"""

import numpy as np
import pyarrow.parquet as pq
from dagster import (
    AssetExecutionContext,
    Config,
    Definitions,
    MaterializeResult,
    StaticPartitionsDefinition,
    asset,
    define_asset_job,
    multiprocess_executor,
)

from curation.ordering.engine import order
from curation.shards import corpus_layout, write_ordered_shards

METHODS = StaticPartitionsDefinition(["random", "sorted", "saw"])


class CorpusConfig(Config):
    corpus: str


class ShardsConfig(Config):
    corpus: str
    out_root: str
    rows_per_shard: int = 40


@asset(partitions_def=METHODS)
def ordering(context: AssetExecutionContext, config: CorpusConfig) -> np.ndarray:
    """Order the corpus rows by a cheap score (text length) with the partition's method."""
    table = pq.read_table(config.corpus, columns=["text"])
    scores = np.asarray([len(t) for t in table.column("text").to_pylist()], dtype=np.float64)
    rows = np.asarray(order(scores, context.partition_key), dtype=np.int64)
    context.add_output_metadata({"rows": int(rows.size), "method": context.partition_key})
    return rows


@asset(partitions_def=METHODS)
def ordered_shards(
    context: AssetExecutionContext, config: ShardsConfig, ordering: np.ndarray
) -> MaterializeResult:
    out = f"{config.out_root}/{context.partition_key}"
    infos = write_ordered_shards(
        config.corpus, ordering, out, rows_per_shard=config.rows_per_shard, progress=False
    )
    assert corpus_layout(config.corpus).n_rows == sum(i.rows for i in infos)
    return MaterializeResult(
        metadata={
            "shards": len(infos),
            "rows": sum(i.rows for i in infos),
            "sha256": ",".join(i.sha256 for i in infos),
            "path": out,
        }
    )


shards_job_def = define_asset_job(
    "ordered_shards_job",
    selection=[ordering, ordered_shards],
    partitions_def=METHODS,
    executor_def=multiprocess_executor.configured({"max_concurrent": 2}),
)
defs = Definitions(assets=[ordering, ordered_shards], jobs=[shards_job_def])


def shards_job():
    """Module-level factory so that each step process can rebuild the job."""
    return defs.resolve_job_def("ordered_shards_job")
