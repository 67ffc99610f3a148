"""A recipe's shard set as a pipeline stage: plan, scatter, write, commit.

The stage is split into units (scatter one source file, write one shard) that separate
processes can run; they share a plan saved in a private work directory (rows, inverse
positions, scores), so no unit holds more than its share and two runs never share one.
A shard set is committed by ``shards.json``, written last and atomically: its presence
means every shard is complete, so a later run reuses it.
"""

import hashlib
import io
import json
import uuid

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curation.recipes import Project
from curation.refs import CorpusRef, OrderingRef, ScoresRef, ShardRef, ShardSetRef
from curation.scores.aligned import aligned_scores
from curation.shards import (
    corpus_layout,
    inverse_permutation,
    plan_shards,
    scatter_source_file,
    write_shard_from_spill,
)
from curation.storage import atomic_write, exists, read_bytes, resolve, write_bytes

COMMIT = "shards.json"
DEFAULT_ROWS_PER_SHARD = 1000


def shard_key(ordering_key: str, rows_per_shard: int, memory_limit_mb: int) -> str:
    """Content address of a shard set: the ordering plus everything that shapes the bytes."""
    text = json.dumps([ordering_key, rows_per_shard, memory_limit_mb])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _save(loc, values: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.save(buffer, values, allow_pickle=False)
    write_bytes(loc, buffer.getvalue())


def _load(loc) -> np.ndarray:
    return np.load(io.BytesIO(read_bytes(loc)), allow_pickle=False)


def _read_commit(loc) -> list[dict] | None:
    """The committed shard list, or None when absent or damaged (a rerun rewrites it)."""
    if not exists(loc):
        return None
    try:
        infos = json.loads(read_bytes(loc))
    except (ValueError, UnicodeDecodeError):
        return None
    return infos if isinstance(infos, list) and infos else None


def plan_shard_set(
    project: Project, ordering: OrderingRef, corpus: CorpusRef, scores: ScoresRef
) -> dict:
    """Decide where the recipe's shards go and save what the units need (unless reused)."""
    rows_per_shard = project.run.rows_per_shard or DEFAULT_ROWS_PER_SHARD
    memory_mb = project.run.memory_limit_mb
    key = shard_key(ordering.key, rows_per_shard, memory_mb)
    out = resolve(project.path("work", "shards", ordering.method, key))
    token = uuid.uuid4().hex[:12]  # private to this run: concurrent runs never share it
    plan = {
        "recipe": ordering.recipe,
        "out": out.uri,
        "corpus": corpus.uri,
        "rows": ordering.rows,
        "rows_per_shard": rows_per_shard,
        "shards": len(plan_shards(ordering.rows, rows_per_shard)),
        "files": len(corpus_layout(corpus.uri).files),
        "memory_limit": memory_mb * 2**20,
        "plan_dir": project.path("work", "plans", f"{key}-{token}"),
        "spill": project.path("work", "spill", f"{key}-{token}"),
        "reused": _read_commit(out.join(COMMIT)) is not None,
    }
    if plan["reused"]:
        return plan
    rows = ordering.read_rows()
    _, values = aligned_scores(corpus, scores)
    plan_dir = resolve(plan["plan_dir"])
    _save(plan_dir.join("rows.npy"), rows)
    _save(plan_dir.join("positions.npy"), inverse_permutation(rows))
    _save(plan_dir.join("score.npy"), values[rows])
    return plan


def scatter_unit(plan: dict, file_index: int) -> int:
    """Spill one source file's rows into per-shard buckets."""
    plan_dir = resolve(plan["plan_dir"])
    return scatter_source_file(
        plan["corpus"],
        _load(plan_dir.join("rows.npy")),
        plan_shards(plan["rows"], plan["rows_per_shard"]),
        plan["spill"],
        file_index,
        memory_limit_bytes=plan["memory_limit"],
        positions=_load(plan_dir.join("positions.npy")),
    )


def write_unit(plan: dict, index: int) -> dict:
    """Write one shard from its spilled buckets."""
    plan_dir = resolve(plan["plan_dir"])
    info = write_shard_from_spill(
        plan["corpus"],
        _load(plan_dir.join("rows.npy")),
        plan_shards(plan["rows"], plan["rows_per_shard"])[index],
        plan["spill"],
        plan["out"],
        memory_limit_bytes=plan["memory_limit"],
        extra_columns={"score": _load(plan_dir.join("score.npy"))},
    )
    return {
        "path": info.path,
        "rows": info.rows,
        "first_position": info.first_position,
        "sha256": info.sha256,
        "bytes": info.bytes,
    }


def commit_shard_set(plan: dict, written: list[dict], ordering: OrderingRef) -> ShardSetRef:
    """Record the shard list last (atomically) and drop this run's work files."""
    out = resolve(plan["out"])
    commit = out.join(COMMIT)
    if plan["reused"]:
        infos = _read_commit(commit)
    else:
        infos = sorted(written, key=lambda s: s["first_position"])
        atomic_write(commit, json.dumps(infos, indent=1).encode())
        for leftover in (resolve(plan["spill"]), resolve(plan["plan_dir"])):
            if exists(leftover):
                leftover.fs.delete_dir(leftover.path)
    return ShardSetRef(
        uri=out.uri,
        recipe=ordering.recipe,
        shards=tuple(ShardRef(**info) for info in infos),
        ordering=ordering,
        reused=bool(plan["reused"]),
    )


def shard_schema(shards: ShardSetRef) -> pa.Schema:
    loc = resolve(shards.shards[0].path)
    return pq.read_schema(loc.path, filesystem=loc.fs)
