"""The whole reorder in one call: plan, pick a strategy, run the units on a pool."""

import os
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from curation.shards.bucket import SPILL_COMPRESSION, scatter_file, shard_from_spill
from curation.shards.errors import ShardError
from curation.shards.gather import gather_shard
from curation.shards.job import ShardJob, validate_rows
from curation.shards.layout import corpus_layout
from curation.shards.memory import DEFAULT_MEMORY_LIMIT
from curation.shards.plan import choose_strategy, plan_shards
from curation.shards.writer import ShardInfo

STRATEGIES = ("auto", "gather", "bucket")


def write_ordered_shards(
    corpus_uri: str | os.PathLike,
    rows: Any,
    out_uri: str | os.PathLike,
    *,
    rows_per_shard: int,
    memory_limit_bytes: int = DEFAULT_MEMORY_LIMIT,
    extra_columns: dict[str, Any] | None = None,
    workers: int = 1,
    progress: bool = True,
    strategy: str = "auto",
    row_group_rows: int | None = None,
    spill_uri: str | os.PathLike | None = None,
    spill_compression: str | None = SPILL_COMPRESSION,
    baseline_bytes: int | None = None,
) -> list[ShardInfo]:
    """Write the whole corpus in ``rows`` order as ``part-*.parquet`` under ``out_uri``.

    ``memory_limit_bytes`` caps the process: ``baseline_bytes`` (default: the resident set
    measured once ``rows``, its inverse and the extra columns exist) is taken off first and
    ``workers`` units share the rest. ``strategy`` is ``auto``, ``gather`` or ``bucket``; the
    bytes written are the same for each, and for any cap, baseline or worker count.
    """
    if strategy not in STRATEGIES:
        raise ShardError(f"strategy must be auto, gather or bucket, got {strategy!r}")
    workers = max(1, int(workers))
    layout = corpus_layout(corpus_uri)
    checked = validate_rows(rows, layout.n_rows)
    specs = plan_shards(checked.size, rows_per_shard)
    if strategy == "auto":
        strategy = choose_strategy(layout, checked, specs)
    job = ShardJob.prepare(
        layout,
        checked,
        memory_limit_bytes=memory_limit_bytes,
        extra_columns=extra_columns,
        row_group_rows=row_group_rows,
        baseline_bytes=baseline_bytes,
        workers=workers,
        positions=strategy == "bucket",
        checked=True,
    )
    if strategy == "gather":
        return run_units(
            lambda s: gather_shard(job, s, out_uri), specs, workers, progress, "shards"
        )
    own_spill = spill_uri is None
    spill = spill_uri or tempfile.mkdtemp(prefix="curation-spill-")
    try:
        run_units(
            lambda f: scatter_file(job, specs, spill, f, spill_compression),
            list(range(len(layout.files))),
            workers,
            progress,
            "scatter",
        )
        return run_units(
            lambda s: shard_from_spill(job, s, spill, out_uri), specs, workers, progress, "shards"
        )
    finally:
        if own_spill:
            shutil.rmtree(spill, ignore_errors=True)


def run_units(fn: Callable, items: list, workers: int, progress: bool, desc: str) -> list:
    """Map ``fn`` over items in order with a thread pool (pyarrow releases the GIL while it
    reads, sorts and encodes), with an optional progress bar."""
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(items), desc=desc, unit=desc.rstrip("s"))
    results = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for result in pool.map(fn, items):
            results.append(result)
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    return results
