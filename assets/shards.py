"""shards_<method>: the corpus rewritten in ordering order as parquet shards, out of core."""

import hashlib
import io
import json
import time

import numpy as np
import pyarrow.parquet as pq
from dagster import (
    AssetCheckResult,
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

from assets.checks import to_check_result
from assets.orderings import aligned_scores, read_positions
from assets.resources import CurationSettings
from curation.quality import check_shards
from curation.shards import (
    ShardSpec,
    corpus_layout,
    inverse_permutation,
    plan_shards,
    scatter_source_file,
    write_shard_from_spill,
)
from curation.storage import exists, read_bytes, resolve, write_bytes

COMMIT = "shards.json"  # written last: its presence means every shard is complete


def read_shard_ids(shards: dict) -> list[np.ndarray]:
    ids = []
    for shard in shards["shards"]:
        loc = resolve(shard["path"])
        ids.append(pq.read_table(loc.path, filesystem=loc.fs, columns=["id"]).column("id"))
    return ids


def shard_key(ordering_key: str, settings: CurationSettings) -> str:
    """Content address of a shard set: the ordering plus everything that shapes the bytes."""
    text = json.dumps([ordering_key, settings.rows_per_shard, settings.memory_limit_mb])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _save_array(loc, values: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.save(buffer, values, allow_pickle=False)
    write_bytes(loc, buffer.getvalue())


def _load_array(loc) -> np.ndarray:
    return np.load(io.BytesIO(read_bytes(loc)), allow_pickle=False)


def _specs(plan: dict) -> list[ShardSpec]:
    return plan_shards(plan["rows"], plan["rows_per_shard"])


def build_shard_ops(method: str):
    """The shard write as independent units of work: scatter per source file, write per shard.

    Each unit is its own op, so the multiprocess executor (or k8s_job_executor) fans them out;
    the in-process executor runs them in turn. All units share one plan saved under the output
    directory (rows, inverse positions, scores), so no unit holds more than its share.
    """

    @op(name=f"shards_{method}_plan", out={"plan": Out(), "files": DynamicOut()})
    def plan_op(
        context: OpExecutionContext,
        settings: CurationSettings,
        ordering: dict,
        raw_corpus: dict,
        sample_scores: dict,
    ):
        key = shard_key(ordering["key"], settings)
        out = resolve(settings.path("work", "shards", method, key))
        plan = {
            "out": out.uri,
            "corpus": raw_corpus["uri"],
            "rows": ordering["rows"],
            "rows_per_shard": settings.rows_per_shard,
            "memory_limit": settings.memory_limit_mb * 2**20,
            "plan_dir": settings.path("work", "shards", method, key, ".plan"),
            "spill": settings.path("work", "spill", method, key),
            "reused": exists(out.join(COMMIT)),
            "started": time.time(),
        }
        yield Output(plan, "plan")
        if plan["reused"]:
            return
        rows = read_positions(ordering)
        _, scores = aligned_scores(settings, raw_corpus, sample_scores)
        plan_dir = resolve(plan["plan_dir"])
        _save_array(plan_dir.join("rows.npy"), rows)
        _save_array(plan_dir.join("positions.npy"), inverse_permutation(rows))
        _save_array(plan_dir.join("score.npy"), scores[rows])
        for index in range(len(corpus_layout(plan["corpus"]).files)):
            yield DynamicOutput(index, output_name="files", mapping_key=f"file_{index}")

    @op(name=f"shards_{method}_scatter")
    def scatter_op(plan: dict, file_index: int) -> int:
        plan_dir = resolve(plan["plan_dir"])
        rows = _load_array(plan_dir.join("rows.npy"))
        return scatter_source_file(
            plan["corpus"],
            rows,
            _specs(plan),
            plan["spill"],
            file_index,
            memory_limit_bytes=plan["memory_limit"],
            positions=_load_array(plan_dir.join("positions.npy")),
        )

    @op(name=f"shards_{method}_split", out=DynamicOut())
    def split_op(plan: dict, scattered: list[int]):
        if plan["reused"]:
            return
        for spec in _specs(plan):
            yield DynamicOutput(spec.index, mapping_key=f"shard_{spec.index}")

    @op(name=f"shards_{method}_write")
    def write_op(plan: dict, index: int) -> dict:
        plan_dir = resolve(plan["plan_dir"])
        info = write_shard_from_spill(
            plan["corpus"],
            _load_array(plan_dir.join("rows.npy")),
            _specs(plan)[index],
            plan["spill"],
            plan["out"],
            memory_limit_bytes=plan["memory_limit"],
            extra_columns={"score": _load_array(plan_dir.join("score.npy"))},
        )
        return {
            "path": info.path,
            "rows": info.rows,
            "first_position": info.first_position,
            "sha256": info.sha256,
            "bytes": info.bytes,
        }

    @op(name=f"shards_{method}_commit")
    def commit_op(
        context: OpExecutionContext, plan: dict, written: list[dict], ordering: dict
    ) -> dict:
        out = resolve(plan["out"])
        commit = out.join(COMMIT)
        if plan["reused"]:
            infos = json.loads(read_bytes(commit))
        else:
            infos = sorted(written, key=lambda s: s["first_position"])
            write_bytes(commit, json.dumps(infos, indent=1).encode())
            for leftover in (resolve(plan["spill"]), resolve(plan["plan_dir"])):
                if exists(leftover):
                    leftover.fs.delete_dir(leftover.path)
        context.add_output_metadata(
            {
                "shards": len(infos),
                "rows": sum(s["rows"] for s in infos),
                "bytes": sum(s["bytes"] for s in infos),
                "ordering_key": ordering["key"],
                "reused": plan["reused"],
                "location": out.uri,
                "seconds": round(time.time() - plan["started"], 3),
            }
        )
        return {"uri": out.uri, "method": method, "shards": infos, "ordering": ordering}

    return plan_op, scatter_op, split_op, write_op, commit_op


def build_shards_asset(method: str):
    plan_op, scatter_op, split_op, write_op, commit_op = build_shard_ops(method)

    @graph_asset(
        name=f"shards_{method}",
        group_name="shards",
        description=f"Documents in {method} order as parquet shards, written out of core as "
        "independent units (scatter per source file, write per shard).",
        ins={
            "ordering": AssetIn(f"ordering_{method}"),
            "raw_corpus": AssetIn("raw_corpus"),
            "sample_scores": AssetIn("sample_scores"),
        },
    )
    def _shards(ordering, raw_corpus, sample_scores):
        plan, files = plan_op(ordering, raw_corpus, sample_scores)
        scattered = files.map(lambda f: scatter_op(plan, f)).collect()
        written = split_op(plan, scattered).map(lambda i: write_op(plan, i)).collect()
        return commit_op(plan, written, ordering)

    @asset_check(
        asset=_shards,
        name="shard_integrity",
        blocking=True,
        additional_ins={"ordering": AssetIn(f"ordering_{method}")},
        description="GX: shard row counts and ids, in order, match the ordering.",
    )
    def _integrity(shards: dict, ordering: dict) -> AssetCheckResult:
        loc = resolve(ordering["uri"])
        expected = pq.read_table(loc.path, filesystem=loc.fs, columns=["id"]).column("id")
        outcome = check_shards(
            expected, read_shard_ids(shards), shard_row_counts=[s["rows"] for s in shards["shards"]]
        )
        return to_check_result(outcome)

    return _shards, _integrity
