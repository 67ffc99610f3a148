"""Units of work in bounded number: consecutive shards in groups, source files in groups.

However many documents a corpus holds, a run fans out into at most ``max_groups`` scatter
units and ``max_groups`` write units, each of which runs its members on a thread pool, so
the number of units (and their fixed cost) does not grow with the corpus.
"""

import os
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from curation.shards.bucket import SPILL_COMPRESSION, scatter_file, shard_from_spill
from curation.shards.errors import ShardError
from curation.shards.gather import gather_shard
from curation.shards.job import ShardJob
from curation.shards.layout import CorpusLayout
from curation.shards.plan import ShardSpec
from curation.shards.pool import run_units
from curation.shards.writer import ShardInfo


@dataclass(frozen=True)
class ShardGroup:
    """Shards ``specs`` (consecutive) written by one unit of work, number ``index``."""

    index: int
    specs: tuple[ShardSpec, ...]

    @property
    def rows(self) -> int:
        return sum(s.stop - s.start for s in self.specs)


def _even_cuts(n: int, max_groups: int) -> np.ndarray:
    if max_groups < 1:
        raise ShardError(f"max_groups must be >= 1, got {max_groups}")
    k = min(n, max_groups)
    return np.linspace(0, n, k + 1).round().astype(np.int64) if k else np.zeros(1, np.int64)


def plan_groups(specs: list[ShardSpec], max_groups: int) -> list[ShardGroup]:
    """At most ``max_groups`` groups of consecutive shards, sizes differing by at most one."""
    cuts = _even_cuts(len(specs), max_groups)
    return [ShardGroup(g, tuple(specs[a:b])) for g, (a, b) in enumerate(pairwise(cuts.tolist()))]


def plan_file_groups(layout: CorpusLayout, max_groups: int) -> list[list[int]]:
    """At most ``max_groups`` groups of consecutive source files, balanced by bytes."""
    n = len(layout.files)
    if max_groups < 1:
        raise ShardError(f"max_groups must be >= 1, got {max_groups}")
    if not n:
        return []
    sizes = np.bincount(layout.rg_file, weights=layout.rg_bytes, minlength=n)
    ends = np.cumsum(sizes)
    k = min(n, max_groups)
    targets = ends[-1] * np.arange(1, k) / k
    cuts = np.unique(np.r_[0, np.searchsorted(ends, targets, side="right"), n])
    return [list(range(a, b)) for a, b in pairwise(cuts.tolist()) if b > a]


def scatter_group(
    job: ShardJob,
    specs: list[ShardSpec],
    spill_uri: str | os.PathLike,
    file_indices: list[int],
    workers: int = 1,
    spill_compression: str | None = SPILL_COMPRESSION,
) -> int:
    """Scatter source files ``file_indices`` into the spill (``workers`` at a time, each
    within ``job.data_bytes``); return the rows written."""
    counts = run_units(
        lambda f: scatter_file(job, specs, spill_uri, f, spill_compression),
        list(file_indices),
        workers,
        False,
        "scatter",
    )
    return int(sum(counts))


def write_group(
    job: ShardJob,
    group: ShardGroup,
    out_uri: str | os.PathLike,
    spill_uri: str | os.PathLike | None = None,
    workers: int = 1,
) -> list[ShardInfo]:
    """Write every shard of ``group`` (``workers`` at a time): from the spill when
    ``spill_uri`` is given (bucket strategy), else gathered from the corpus."""
    if spill_uri is None:
        fn = lambda s: gather_shard(job, s, out_uri)  # noqa: E731
    else:
        fn = lambda s: shard_from_spill(job, s, spill_uri, out_uri)  # noqa: E731
    return run_units(fn, list(group.specs), workers, False, "shards")
