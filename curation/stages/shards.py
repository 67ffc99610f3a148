"""A recipe's shard set as a pipeline stage: plan, scatter, write, commit.

Shards are sized by bytes (``run.shard_mb`` of uncompressed data each, rows per shard
derived from the corpus; ``run.rows_per_shard`` overrides) and the stage is split into a
bounded number of units whatever the corpus size: at most ``run.shard_steps`` scatter units
(groups of source files) and as many write units (groups of consecutive shards) per recipe.
Each unit runs its members on every core the cap leaves room for. Units share a plan saved
in a private work directory (rows, inverse positions, scores), so no unit holds more than
its share and two runs never share one. A shard set is committed by ``shards.json``,
written last and atomically: its presence means every shard is complete, so a later run
reuses it.
"""

import dataclasses
import hashlib
import io
import json
import uuid
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curation.corpus.digests import content_digests
from curation.machine import available_cores
from curation.project import Project
from curation.quality import CheckOutcome
from curation.quality.content import check_shard_set
from curation.refs import CorpusRef, OrderingRef, ScoresRef, ShardPlan, ShardRef, ShardSetRef
from curation.scores.aligned import aligned_values
from curation.shards import (
    SCORE,
    MiB,
    ShardJob,
    corpus_layout,
    default_row_group_rows,
    inverse_permutation,
    plan_file_groups,
    plan_groups,
    plan_shards,
    rows_per_shard_for,
    scatter_group,
    workers_within,
    write_group,
)
from curation.storage import exists, read_bytes, resolve, write_bytes
from curation.storage.intact import damaged, parquet_problem
from curation.storage.workdir import commit_marker, read_marker, set_aside

COMMIT = "shards.json"


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
    infos = read_marker(loc)
    return infos if isinstance(infos, list) and infos else None


def _reusable_commit(loc) -> list[dict] | None:
    """The committed shard list when every shard it names is whole (size and footer, as
    recorded); a damaged shard set is named, its marker moved aside, and rebuilt."""
    infos = _read_commit(loc)
    for info in infos or []:
        shard = resolve(info["path"])
        problem = parquet_problem(shard, rows=info["rows"], size=info["bytes"])
        if problem is not None:
            damaged("shard set", loc, f"{shard.uri}: {problem}")
            set_aside(loc)
            return None
    return infos


def plan_shard_set(
    project: Project, ordering: OrderingRef, corpus: CorpusRef, scores: ScoresRef
) -> ShardPlan:
    """Decide where the recipe's shards go and save what the units need (unless reused)."""
    layout = corpus_layout(corpus.uri)
    run = project.run
    rows_per_shard = run.rows_per_shard or rows_per_shard_for(layout, run.shard_mb * MiB)
    memory_mb = run.memory_limit_mb
    key = shard_key(ordering.key, rows_per_shard, memory_mb)
    out = resolve(project.path("work", "shards", ordering.recipe, key))
    token = uuid.uuid4().hex[:12]  # private to this run: concurrent runs never share it
    specs = plan_shards(ordering.rows, rows_per_shard)
    plan = ShardPlan(
        recipe=ordering.recipe,
        out=out.uri,
        corpus=corpus.uri,
        rows=ordering.rows,
        rows_per_shard=rows_per_shard,
        shards=len(specs),
        shard_groups=len(plan_groups(specs, run.shard_steps)),
        file_groups=tuple(plan_file_groups(layout, run.shard_steps)),
        memory_limit=memory_mb * MiB,
        plan_dir=project.path("work", "plans", f"{key}-{token}"),
        spill=project.path("work", "spill", f"{key}-{token}"),
        reused=_reusable_commit(out.join(COMMIT)) is not None,
        engine=run.engine,  # not part of the key: either engine writes the same bytes
    )
    if plan.reused:
        return plan
    rows = ordering.read_rows()
    values = aligned_values(corpus, scores)
    plan_dir = resolve(plan.plan_dir)
    _save(plan_dir.join("rows.npy"), rows)
    # -1 for the corpus rows a selection leaves out: scatter skips them, so the shards hold
    # exactly the kept rows and the write side handles only their bytes
    _save(plan_dir.join("positions.npy"), inverse_permutation(rows, corpus.rows))
    _save(plan_dir.join("score.npy"), values[rows])
    return plan


def load_plan_array(plan: ShardPlan, name: str) -> np.ndarray:
    """One of the plan's saved arrays: ``rows``, ``positions`` or ``score``."""
    return _load(resolve(plan.plan_dir).join(f"{name}.npy"))


def shard_info_dict(info) -> dict:
    """What a write unit reports of one shard (the entries ``shards.json`` commits)."""
    return {
        "path": info.path,
        "rows": info.rows,
        "first_position": info.first_position,
        "sha256": info.sha256,
        "bytes": info.bytes,
    }


def write_on_engine(
    project: Project, plan: ShardPlan, log: Callable[[str], None] = print
) -> ShardPlan:
    """Under ``run.engine: ray``, write the whole shard set on Ray (one call: the fan-out
    happens inside the engine) and return the plan with its ``written`` shards, which
    leaves it no units to run; under ``local`` (or when reused) the plan as it is."""
    if plan.engine != "ray" or plan.reused:
        return plan
    from curation.engines.ray_shards import write_shard_set_on_ray

    infos = write_shard_set_on_ray(project, plan, lambda name: load_plan_array(plan, name), log)
    return dataclasses.replace(plan, written=tuple(shard_info_dict(i) for i in infos))


def _job(plan: ShardPlan, units: int, **arrays) -> tuple[ShardJob, int]:
    """The unit's job and how many of its ``units`` run side by side under the cap."""
    layout = corpus_layout(plan.corpus)
    rows = _load(resolve(plan.plan_dir).join("rows.npy"))
    limit = plan.memory_limit
    rg_rows = default_row_group_rows(layout, limit)
    workers = workers_within(limit, layout, rg_rows, None, min(available_cores(), max(units, 1)))
    job = ShardJob.prepare(
        layout, rows, memory_limit_bytes=limit, workers=workers, checked=True, **arrays
    )
    return job, workers


def _specs(plan: ShardPlan):
    return plan_shards(plan.rows, plan.rows_per_shard)


def scatter_unit(plan: ShardPlan, group: int) -> int:
    """Spill one group of source files into per-bucket spill files; rows written."""
    files = plan.file_groups[group]
    positions = _load(resolve(plan.plan_dir).join("positions.npy"))
    job, workers = _job(plan, len(files), positions=positions)
    return scatter_group(job, _specs(plan), plan.spill, files, workers=workers)


def write_unit(plan: ShardPlan, group: int) -> list[dict]:
    """Write one group of consecutive shards from their spilled buckets."""
    shard_group = plan_groups(_specs(plan), plan.shard_groups)[group]
    score = _load(resolve(plan.plan_dir).join("score.npy"))
    job, workers = _job(plan, len(shard_group.specs), extra_columns={SCORE: score})
    infos = write_group(job, shard_group, plan.out, plan.spill, workers=workers)
    return [shard_info_dict(info) for info in infos]


def commit_shard_set(plan: ShardPlan, written: list[dict], ordering: OrderingRef) -> ShardSetRef:
    """Record the shard list last (atomically) and drop this run's work files."""
    out = resolve(plan.out)
    commit = out.join(COMMIT)
    if plan.reused:
        infos = _read_commit(commit)
    else:
        infos = sorted([*plan.written, *written], key=lambda s: s["first_position"])
        infos = commit_marker(commit, infos)  # a concurrent run's equal commit wins
        for leftover in (resolve(plan.spill), resolve(plan.plan_dir)):
            if exists(leftover):
                leftover.fs.delete_dir(leftover.path)
    return ShardSetRef(
        uri=out.uri,
        recipe=ordering.recipe,
        shards=tuple(ShardRef(**info) for info in infos),
        ordering=ordering,
        reused=bool(plan.reused),
        engine=plan.engine,
    )


def shard_schema(shards: ShardSetRef) -> pa.Schema:
    loc = resolve(shards.shards[0].path)
    return pq.read_schema(loc.path, filesystem=loc.fs)


def build_shard_set(
    project: Project, ordering: OrderingRef, corpus: CorpusRef, scores: ScoresRef
) -> ShardSetRef:
    """The whole stage in this process: plan, every scatter unit, every write unit, commit.
    (The orchestrated graph runs the same units as separate steps; ``run.engine: ray`` runs
    them all on Ray, inside :func:`write_on_engine`.)"""
    plan = write_on_engine(project, plan_shard_set(project, ordering, corpus, scores))
    for group in range(plan.scatter_units):
        scatter_unit(plan, group)
    written = [info for group in range(plan.write_units) for info in write_unit(plan, group)]
    return commit_shard_set(plan, written, ordering)


def check_shard_sets(
    corpus: CorpusRef, orderings: dict[str, OrderingRef], shards: dict[str, ShardSetRef]
) -> dict[str, CheckOutcome]:
    """Blocking, per recipe: shard rows, ids and id+text content, in order, match the
    ordering and the corpus version it names (corpus digests computed once for all)."""
    digests = content_digests(corpus.uri, corpus.id_column, corpus.text_column)
    return {
        name: check_shard_set(corpus, orderings[name], ref, digests) for name, ref in shards.items()
    }
