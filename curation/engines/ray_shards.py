"""The reorder on Ray: the same scatter and write units, scheduled and retried by Ray.

Ray moves rows; everything that shapes a byte stays ours. The plan (``plan_shard_set``)
fixes shard ids (``position // rows_per_shard``) and names (``part-NNNNN``), row groups and
spill buckets; every shard is written by the one writer (``shards.writer``) from the same
bucket pieces in the same order. So a shard set written on Ray has the same sha256s, and
the version it publishes the same id, as one written by the local engine.

Two ways to hand the buckets from scatter to write (``shuffle``):

* ``objects`` (default): a scatter task per chunk of source row groups returns one Arrow
  table per bucket into Ray's object store; a write task per shard fetches its buckets pass
  by pass. The shuffle's intermediate state is Ray's: it spills to the node's disk beyond
  ``object_store_memory`` and is freed when the run drops its references; a lost node's
  pieces are rebuilt from lineage (the scatter task runs again).
* ``spill``: the local engine's spill files under the storage root, a Ray task per source
  file and per shard (what the orchestrator steps do, at a finer grain).

Every task is idempotent (a shard is written under a temporary name and moved, or uploaded
whole), so Ray may retry any of them (``max_retries``) after a lost worker or node.
"""

import socket
import time
from collections.abc import Callable, Iterator

import numpy as np
import pyarrow as pa

from curation.engines.ray_cluster import RayEngineError, gcs_address, import_ray, ray_session
from curation.refs import ShardPlan
from curation.shards import CorpusLayout, ShardJob, ShardSpec, corpus_layout
from curation.shards.bucket import (
    bucket_pieces,
    bucket_starts,
    chunk_groups,
    scatter_file,
    shard_from_pieces,
    shard_from_spill,
)
from curation.shards.columns import POSITION, SCORE
from curation.shards.layout import SourceReader
from curation.shards.plan import plan_shards
from curation.shards.writer import ShardInfo

#: Ray re-runs a task this often after its worker or node died, or after a storage error
#: (``OSError``: an S3 hiccup); units are idempotent. Other errors (a damaged corpus file)
#: fail the run at once, naming the file.
MAX_RETRIES = 3
RETRY = {"max_retries": MAX_RETRIES, "retry_exceptions": [OSError]}

#: How long the head (GCS) may not answer before the run fails (Ray waits 60 s by default).
HEAD_GRACE_S = 10.0

Progress = Callable[[str], None]


def head_answers(address: str) -> bool:
    """Whether the head's GCS port accepts a connection."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=2.0):
            return True
    except OSError:
        return False


def write_shard_set_on_ray(
    project, plan: ShardPlan, load: Callable[[str], np.ndarray], log: Progress = print
) -> list[ShardInfo]:
    """Write the plan's shards on Ray (the project's cluster, a local one for the call, or
    the one this process is already connected to). ``load(name)`` gives the plan's saved
    arrays (``rows``, ``positions``, ``score``); each goes into the object store once."""
    shuffle = project.ray.shuffle
    with ray_session(project):
        ray = import_ray()
        layout = corpus_layout(plan.corpus)
        arrays = {"layout": ray.put(layout)}
        for name in ("rows", "positions", "score"):
            arrays[name] = ray.put(load(name))
        specs = plan_shards(plan.rows, plan.rows_per_shard)
        run = _objects if shuffle == "objects" else _spill
        try:
            infos = run(ray, plan, specs, arrays, layout, log)
        except ray.exceptions.RayError as exc:
            raise RayEngineError(
                f"recipe {plan.recipe}: the reorder on Ray failed ({type(exc).__name__}: "
                f"{exc}); no shard set was committed"
            ) from exc
        finally:
            del arrays  # the run's objects: Ray frees them (and any spilled copies)
    return infos


def _job(plan: ShardPlan, layout: CorpusLayout, rows: np.ndarray, **kw) -> ShardJob:
    """The unit's job: the plan's cap (so row groups and buckets match the local engine's)
    for this one task."""
    return ShardJob.prepare(layout, rows, memory_limit_bytes=plan.memory_limit, checked=True, **kw)


# ------------------------------------------------------------------ objects


def _scatter_chunk(plan: ShardPlan, specs: list, layout, rows, positions, groups: list[int]):
    """Read source row groups ``groups`` and cut them into one table per bucket of the run
    (empty where the chunk holds none of the bucket's rows)."""
    job = _job(plan, layout, rows, positions=positions)
    starts, _ = bucket_starts(specs, job.bucket_rows)
    reader = SourceReader(layout, job.data_bytes / 4)
    try:
        table = pa.concat_tables([reader.read(g) for g in groups])
    finally:
        reader.close()
    first, last = layout.rg_start[groups[0]], layout.rg_start[groups[-1] + 1]
    out: list = [None] * starts.size
    for k, piece in bucket_pieces(starts, table, positions[first:last]):
        out[k] = piece
    empty = table.schema.append(pa.field(POSITION, pa.int64())).empty_table()
    out = [empty if t is None else t for t in out]
    return out if len(out) != 1 else out[0]


def _write_from_objects(plan: ShardPlan, spec: ShardSpec, layout, rows, score, buckets: list):
    """Write shard ``spec`` from its buckets' pieces (object refs, fetched pass by pass)."""
    ray = import_ray()
    job = _job(plan, layout, rows, extra_columns={SCORE: score})

    def pieces(first: int, last: int) -> Iterator[pa.RecordBatch]:
        for k in range(first, last + 1):
            for table in ray.get(buckets[k]):
                yield from table.to_batches()

    return shard_from_pieces(job, spec, pieces, plan.out)


def _objects(ray, plan, specs, arrays, layout, log) -> list[ShardInfo]:
    job = _job(plan, layout, ray.get(arrays["rows"]))
    starts, owner = bucket_starts(specs, job.bucket_rows)
    chunks = chunk_groups(layout, job.data_bytes / 3)
    scatter = ray.remote(_scatter_chunk).options(num_returns=max(1, starts.size), **RETRY)
    args = (arrays["layout"], arrays["rows"])
    per_chunk = []
    for groups in chunks:
        refs = scatter.remote(plan, specs, *args, arrays["positions"], groups)
        per_chunk.append(refs if isinstance(refs, list) else [refs])
    started = time.monotonic()
    _wait(ray, [r[0] for r in per_chunk], "scatter", plan, log, started)
    write = ray.remote(_write_from_objects).options(**RETRY)
    futures = []
    for i, spec in enumerate(specs):
        buckets = [[refs[k] for refs in per_chunk] for k in np.flatnonzero(owner == i).tolist()]
        futures.append(write.remote(plan, spec, *args, arrays["score"], buckets))
    del per_chunk  # the write tasks hold the pieces now; Ray frees each once its task is done
    return _wait(ray, futures, "write", plan, log, started)


# ------------------------------------------------------------------ spill files


def _scatter_file(plan, specs, layout, rows, positions, file_index: int) -> int:
    job = _job(plan, layout, rows, positions=positions)
    return scatter_file(job, specs, plan.spill, file_index)


def _write_from_spill(plan, spec, layout, rows, score) -> ShardInfo:
    job = _job(plan, layout, rows, extra_columns={SCORE: score})
    return shard_from_spill(job, spec, plan.spill, plan.out)


def _spill(ray, plan, specs, arrays, layout, log) -> list[ShardInfo]:
    args = (arrays["layout"], arrays["rows"])
    scatter = ray.remote(_scatter_file).options(**RETRY)
    refs = [
        scatter.remote(plan, specs, *args, arrays["positions"], f) for f in range(len(layout.files))
    ]
    started = time.monotonic()
    _wait(ray, refs, "scatter", plan, log, started)
    write = ray.remote(_write_from_spill).options(**RETRY)
    refs = [write.remote(plan, s, *args, arrays["score"]) for s in specs]
    return _wait(ray, refs, "write", plan, log, started)


def _wait(ray, refs: list, phase: str, plan: ShardPlan, log: Progress, started: float) -> list:
    """Results in submission order, logging progress (units done, rows/s) as they finish.
    A head that stops answering fails the run here, naming it (Ray itself would end this
    process without a word once its own reconnect timeout passes)."""
    pending, done, last = list(refs), 0, time.monotonic()
    head = gcs_address(ray)
    unreachable_since = None
    while pending:
        ready, pending = ray.wait(pending, num_returns=1, timeout=2.0)
        done += len(ready)
        now = time.monotonic()
        if not ready and head:
            unreachable_since = None if head_answers(head) else unreachable_since or now
            if unreachable_since is not None and now - unreachable_since >= HEAD_GRACE_S:
                raise RayEngineError(
                    f"recipe {plan.recipe}: the Ray head at {head} stopped answering during the "
                    f"reorder ({phase}, {done}/{len(refs)} units done); the run stops and "
                    "nothing is committed or published"
                )
        if now - last >= 5.0 or not pending:
            elapsed = max(now - started, 1e-9)
            log(
                f"{plan.recipe}: ray {phase} {done}/{len(refs)} units done after "
                f"{elapsed:.1f} s ({plan.rows / elapsed:,.0f} rows/s for the whole run so far)"
            )
            last = now
    return ray.get(list(refs))
