"""Planning: cutting output positions into shards, shards into passes, and picking the
strategy that reads least, from parquet metadata and the ordering alone."""

from dataclasses import dataclass

import numpy as np

from curation.shards.errors import ShardError
from curation.shards.layout import CorpusLayout
from curation.shards.memory import DEFAULT_MEMORY_LIMIT, MiB

SHARD_NAME = "part-{:05d}.parquet"
TARGET_ROW_GROUP_BYTES = 64 * MiB
MAX_ROW_GROUP_ROWS = 10_000
#: Uncompressed bytes per output shard: big enough that a training reader opens few files
#: and a run plans few units, small enough for a worker to write in a handful of passes.
DEFAULT_SHARD_BYTES = 256 * MiB


@dataclass(frozen=True)
class ShardSpec:
    """Output positions ``[start, stop)`` written to shard ``index``."""

    index: int
    start: int
    stop: int

    @property
    def name(self) -> str:
        return SHARD_NAME.format(self.index)


def plan_shards(n_rows: int, rows_per_shard: int) -> list[ShardSpec]:
    """Cut ``n_rows`` output positions into consecutive shards (the last one shorter)."""
    if rows_per_shard < 1:
        raise ShardError(f"rows_per_shard must be >= 1, got {rows_per_shard}")
    starts = range(0, max(n_rows, 0), rows_per_shard)
    return [ShardSpec(i, s, min(s + rows_per_shard, n_rows)) for i, s in enumerate(starts)]


def rows_per_shard_for(layout: CorpusLayout, shard_bytes: int = DEFAULT_SHARD_BYTES) -> int:
    """Rows per shard so that a shard holds about ``shard_bytes`` of uncompressed data, from
    the corpus's mean row size (parquet footers): shards sized by bytes, not documents."""
    if shard_bytes < 1:
        raise ShardError(f"shard_bytes must be >= 1, got {shard_bytes}")
    return int(max(1, shard_bytes // layout.mean_row_bytes()))


def default_row_group_rows(
    layout: CorpusLayout, memory_limit_bytes: int = DEFAULT_MEMORY_LIMIT
) -> int:
    """Rows per output row group: ~64 MiB (less under a small memory limit, since a pass
    holds at least one row group), at most 10 000 rows. Same for every shard of a run."""
    target = min(TARGET_ROW_GROUP_BYTES, memory_limit_bytes / 8)
    return int(max(1, min(MAX_ROW_GROUP_ROWS, target // layout.mean_row_bytes())))


def plan_passes(est_bytes: np.ndarray, row_group_rows: int, budget: float) -> list[tuple[int, int]]:
    """Split a shard (per-position byte estimates) into passes of whole output row groups
    whose estimated size fits ``budget``; at least one row group per pass."""
    n = est_bytes.size
    edges = np.arange(0, n, row_group_rows)
    group_bytes = np.add.reduceat(est_bytes, edges) if n else np.zeros(0)
    passes, start, acc = [], 0, 0.0
    for g, size in enumerate(group_bytes):  # loop over row groups, not rows
        if acc and acc + size > budget:
            passes.append((start, int(edges[g])))
            start, acc = int(edges[g]), 0.0
        acc += float(size)
    if n:
        passes.append((start, n))
    return passes


def gather_read_bytes(
    layout: CorpusLayout, rows: np.ndarray, specs: list[ShardSpec], stop_above: float = np.inf
) -> float:
    """Bytes the gather strategy would read (one pass per shard): the row groups each shard
    touches. Loops over shards (memory O(shard)); stops early once above ``stop_above``."""
    total = 0.0
    for spec in specs:
        touched = np.unique(layout.row_group_of(rows[spec.start : spec.stop]))
        total += float(layout.rg_bytes[touched].sum())
        if total > stop_above:
            break
    return total


def choose_strategy(layout: CorpusLayout, rows: np.ndarray, specs: list[ShardSpec]) -> str:
    """``gather`` when shards touch few row groups (read <= 1.5x the corpus), else ``bucket``
    (read once, spill once: ~2 sequential passes whatever the order)."""
    limit = 1.5 * layout.total_bytes
    cheap = gather_read_bytes(layout, rows, specs, stop_above=limit) <= limit
    return "gather" if cheap else "bucket"
