"""The gather strategy: fill a shard by reading only the source row groups that hold its
rows, in passes that fit the budget. Cheap when an ordering keeps locality (few row groups
per shard); a random permutation makes every shard read the whole corpus."""

import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa

from curation.machine import release_memory
from curation.shards.job import ShardJob
from curation.shards.layout import CorpusLayout, SourceReader
from curation.shards.memory import DEFAULT_MEMORY_LIMIT
from curation.shards.plan import ShardSpec
from curation.shards.writer import ShardInfo, write_parquet
from curation.storage import resolve


def gather_rows(reader: SourceReader, layout: CorpusLayout, src: np.ndarray) -> pa.Table:
    """Corpus rows ``src`` in the order given, reading each needed row group once."""
    order = np.argsort(src, kind="stable")
    sorted_src = src[order]
    rg = layout.row_group_of(sorted_src)
    bounds = np.flatnonzero(np.diff(rg)) + 1
    starts = np.concatenate([[0], bounds])
    stops = np.concatenate([bounds, [sorted_src.size]])
    pieces = [
        reader.take(int(rg[a]), sorted_src[a:b] - layout.rg_start[rg[a]])
        for a, b in zip(starts, stops, strict=True)
    ]
    gathered = pa.concat_tables(pieces) if pieces else layout.schema.empty_table()
    inverse = np.empty_like(order)
    inverse[order] = np.arange(order.size)
    return gathered.take(pa.array(inverse))


def gather_shard(job: ShardJob, spec: ShardSpec, out_uri: str | os.PathLike) -> ShardInfo:
    """Write shard ``spec`` of ``job`` under ``out_uri`` straight from the corpus."""
    passes = job.passes(spec)
    reader = SourceReader(job.layout, job.data_bytes / 4)

    def tables() -> Iterator[pa.Table]:
        for a, b in passes:
            src = job.rows[spec.start + a : spec.start + b]
            yield job.finish(gather_rows(reader, job.layout, src), spec.start + a)
            release_memory()

    try:
        out = resolve(out_uri)
        return write_parquet(out, spec, job.schema, tables(), job.row_group_rows, len(passes))
    finally:
        reader.close()


def write_shard(
    corpus_uri: str | os.PathLike | CorpusLayout,
    rows: Any,
    spec: ShardSpec,
    out_uri: str | os.PathLike,
    *,
    memory_limit_bytes: int = DEFAULT_MEMORY_LIMIT,
    extra_columns: dict[str, Any] | None = None,
    row_group_rows: int | None = None,
    baseline_bytes: int | None = None,
) -> ShardInfo:
    """Gather one shard as an independent unit of work. ``memory_limit_bytes`` caps the
    process; ``baseline_bytes`` (default: measured resident set) is what it already holds."""
    job = ShardJob.prepare(
        corpus_uri,
        rows,
        memory_limit_bytes=memory_limit_bytes,
        extra_columns=extra_columns,
        row_group_rows=row_group_rows,
        baseline_bytes=baseline_bytes,
    )
    return gather_shard(job, spec, out_uri)
