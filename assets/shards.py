"""shards_<method>: the corpus rewritten in ordering order as parquet shards, out of core."""

import json
import time

import numpy as np
import pyarrow.parquet as pq
from dagster import AssetCheckResult, AssetExecutionContext, AssetIn, asset, asset_check

from assets.checks import to_check_result
from assets.orderings import aligned_scores, read_positions
from assets.resources import CurationSettings
from curation.quality import check_shards
from curation.shards import write_ordered_shards
from curation.storage import exists, read_bytes, resolve, write_bytes

COMMIT = "shards.json"  # written last: its presence means every shard is complete


def read_shard_ids(shards: dict) -> list[np.ndarray]:
    ids = []
    for shard in shards["shards"]:
        loc = resolve(shard["path"])
        ids.append(pq.read_table(loc.path, filesystem=loc.fs, columns=["id"]).column("id"))
    return ids


def build_shards_asset(method: str):
    @asset(
        name=f"shards_{method}",
        group_name="shards",
        description=f"Documents in {method} order as parquet shards (streamable row groups).",
        ins={
            "ordering": AssetIn(f"ordering_{method}"),
            "raw_corpus": AssetIn("raw_corpus"),
            "sample_scores": AssetIn("sample_scores"),
        },
    )
    def _shards(
        context: AssetExecutionContext,
        settings: CurationSettings,
        ordering: dict,
        raw_corpus: dict,
        sample_scores: dict,
    ) -> dict:
        started = time.perf_counter()
        out = resolve(settings.path("work", "shards", method, ordering["key"]))
        commit = out.join(COMMIT)
        reused = exists(commit)
        if reused:
            infos = json.loads(read_bytes(commit))
        else:
            rows = read_positions(ordering)
            _, scores = aligned_scores(settings, raw_corpus, sample_scores)
            written = write_ordered_shards(
                raw_corpus["uri"],
                rows,
                out.uri,
                rows_per_shard=settings.rows_per_shard,
                memory_limit_bytes=settings.memory_limit_mb * 2**20,
                extra_columns={"score": scores[rows]},
                progress=False,
            )
            infos = [
                {
                    "path": s.path,
                    "rows": s.rows,
                    "first_position": s.first_position,
                    "sha256": s.sha256,
                    "bytes": s.bytes,
                }
                for s in written
            ]
            write_bytes(commit, json.dumps(infos, indent=1).encode())
        total_bytes = sum(s["bytes"] for s in infos)
        context.add_output_metadata(
            {
                "shards": len(infos),
                "rows": sum(s["rows"] for s in infos),
                "bytes": total_bytes,
                "ordering_key": ordering["key"],
                "reused": reused,
                "location": out.uri,
                "seconds": round(time.perf_counter() - started, 3),
            }
        )
        return {"uri": out.uri, "method": method, "shards": infos, "ordering": ordering}

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
