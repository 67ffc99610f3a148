"""Verification of a committed version against its manifest."""

import posixpath

import numpy as np
import pyarrow.parquet as pq

from curation import storage
from curation.hashing import sha256_of
from curation.publish.catalog import open_version
from curation.publish.manifest import NotPublished
from curation.storage import Location


def verify_version(root: str, dataset: str, version: str = "latest") -> list[str]:
    """Problems found (empty = ok): checksums, row counts, row ranges, position order."""
    try:
        pv = open_version(root, dataset, version)
    except NotPublished as exc:
        return [str(exc)]
    vdir = storage.resolve(pv.uri)
    problems = _check_ranges(pv.manifest)
    for shard in pv.manifest["shards"]:
        problems += _verify_shard(vdir.join(shard["name"]), shard)
    listed = {s["name"] for s in pv.manifest["shards"]}
    extra = [
        f.uri
        for f in storage.list_files(vdir, ".parquet")
        if posixpath.basename(f.path) not in listed
    ]
    if extra:
        problems.append(f"unexpected parquet files not in the manifest: {extra[:10]}")
    return problems


def _check_ranges(manifest: dict) -> list[str]:
    problems, expected = [], 0
    for s in manifest["shards"]:
        if s["row_start"] != expected or s["row_end"] - s["row_start"] != s["rows"]:
            problems.append(
                f"{s['name']}: row range [{s['row_start']}, {s['row_end']}) "
                f"does not follow on from row {expected} with {s['rows']} rows"
            )
        expected = s["row_end"]
    if expected != manifest["num_rows"]:
        problems.append(f"shards hold {expected} rows, manifest says {manifest['num_rows']}")
    return problems


def _verify_shard(loc: Location, shard: dict) -> list[str]:
    if not storage.exists(loc):
        return [f"{shard['name']}: missing"]
    digest, size = sha256_of(loc)
    if digest != shard["sha256"] or size != shard["bytes"]:
        return [
            f"{shard['name']}: sha256 mismatch (file {digest[:12]}…, "
            f"manifest {shard['sha256'][:12]}…)"
        ]
    with loc.fs.open_input_file(loc.path) as f:
        pf = pq.ParquetFile(f)
        if pf.metadata.num_rows != shard["rows"]:
            return [f"{shard['name']}: {pf.metadata.num_rows} rows, manifest says {shard['rows']}"]
        if "position" in pf.schema_arrow.names:
            return _verify_positions(pf, shard)
    return []


def _verify_positions(pf: pq.ParquetFile, shard: dict) -> list[str]:
    """The ``position`` column must count row_start, row_start+1, ... across the shard."""
    start = shard["row_start"]
    for batch in pf.iter_batches(columns=["position"], batch_size=1 << 16):
        pos = batch.column(0).to_numpy(zero_copy_only=False)
        expected = np.arange(start, start + len(pos))
        bad = np.flatnonzero(pos != expected)
        if bad.size:
            rows = (start + bad[:10]).tolist()
            return [f"{shard['name']}: position column out of order at global rows {rows}"]
        start += len(pos)
    return []
