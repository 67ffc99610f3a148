"""The whole reorder in one call: plan, pick a strategy, run the units on a pool."""

import os
import shutil
import tempfile
from typing import Any

from curation.machine import available_cores
from curation.shards.bucket import SPILL_COMPRESSION, scatter_file, shard_from_spill
from curation.shards.errors import ShardError
from curation.shards.gather import gather_shard
from curation.shards.job import ShardJob, validate_rows
from curation.shards.layout import corpus_layout
from curation.shards.memory import DEFAULT_MEMORY_LIMIT, workers_within
from curation.shards.plan import (
    DEFAULT_SHARD_BYTES,
    choose_strategy,
    default_row_group_rows,
    plan_shards,
    rows_per_shard_for,
)
from curation.shards.pool import run_units
from curation.shards.writer import ShardInfo

STRATEGIES = ("auto", "gather", "bucket")


def write_ordered_shards(
    corpus_uri: str | os.PathLike,
    rows: Any,
    out_uri: str | os.PathLike,
    *,
    rows_per_shard: int | None = None,
    shard_bytes: int = DEFAULT_SHARD_BYTES,
    memory_limit_bytes: int = DEFAULT_MEMORY_LIMIT,
    extra_columns: dict[str, Any] | None = None,
    workers: int | None = None,
    progress: bool = True,
    strategy: str = "auto",
    row_group_rows: int | None = None,
    spill_uri: str | os.PathLike | None = None,
    spill_compression: str | None = SPILL_COMPRESSION,
    baseline_bytes: int | None = None,
) -> list[ShardInfo]:
    """Write the whole corpus in ``rows`` order as ``part-*.parquet`` under ``out_uri``.

    Shards hold ``rows_per_shard`` rows, or by default about ``shard_bytes`` of uncompressed
    data (:func:`rows_per_shard_for`). ``workers`` units run side by side (default: every
    core this process may use).

    ``memory_limit_bytes`` caps the process: ``baseline_bytes`` (default: the resident set
    measured once ``rows``, its inverse and the extra columns exist) is taken off first and
    ``workers`` units share the rest. ``strategy`` is ``auto``, ``gather`` or ``bucket``; the
    bytes written are the same for each, and for any cap, baseline or worker count.
    """
    if strategy not in STRATEGIES:
        raise ShardError(f"strategy must be auto, gather or bucket, got {strategy!r}")
    layout = corpus_layout(corpus_uri)
    checked = validate_rows(rows, layout.n_rows)
    specs = plan_shards(checked.size, rows_per_shard or rows_per_shard_for(layout, shard_bytes))
    if strategy == "auto":
        strategy = choose_strategy(layout, checked, specs)
    if workers is None:  # every core, as far as the cap and the number of units allow
        rg_rows = row_group_rows or default_row_group_rows(layout, memory_limit_bytes)
        units = max(len(specs), len(layout.files) if strategy == "bucket" else 1)
        most = min(available_cores(), units)
        workers = workers_within(memory_limit_bytes, layout, rg_rows, baseline_bytes, most)
    workers = max(1, int(workers))
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
