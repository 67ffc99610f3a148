"""The one verification of a committed version: every claim its manifest makes is checked.

``manifest_problems`` checks what the manifest says about itself (no file reads): its shape,
the version id recomputed from lineage, shard hashes and check verdicts, shard names (exactly
``part-NNNNN.parquet`` at index N, so a name can neither escape the version directory nor
reorder the shards), row counts, row ranges and the total. Opening a version runs it, so the
reader never uses a field it did not check. ``content_problems`` checks the files against
the manifest: no links, footer row counts, row-group sizes and schema, sha256 and size, the
``_curation_position`` column. ``curation datasets verify`` and the reader's ``verify=True``
both call :func:`verify_opened`; the reader spreads the hashing across ranks with ``hash_shards``.
"""

import os
import posixpath
import re
from collections.abc import Iterable

import numpy as np
import pyarrow.parquet as pq

from curation import storage
from curation.publish.manifest import (
    FORMAT_VERSION,
    MANIFEST,
    REQUIRED_LINEAGE,
    claimed_version_id,
    shard_name,
)
from curation.shards.columns import POSITION
from curation.storage import Location

_HEX64 = re.compile(r"[0-9a-f]{64}")
_SHARD_KEYS = ("name", "sha256", "bytes", "rows", "row_start", "row_end", "row_groups")


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _shape_problems(manifest: object, version: str, dataset: str) -> list[str]:
    if not isinstance(manifest, dict):
        return [f"{MANIFEST} is not a JSON object"]
    if manifest.get("format") != FORMAT_VERSION:
        return [
            f"{MANIFEST} has format {manifest.get('format')!r}; this library reads format "
            f"{FORMAT_VERSION} (republish the version)"
        ]
    problems = []
    if manifest.get("version") != version:
        problems.append(f"manifest names version {manifest.get('version')!r}, directory {version}")
    if manifest.get("dataset") != dataset:
        problems.append(
            f"manifest belongs to dataset {manifest.get('dataset')!r} but sits in dataset "
            f"{dataset!r} (a version copied between datasets is not that dataset's version)"
        )
    lineage = manifest.get("lineage")
    if not isinstance(lineage, dict) or any(k not in lineage for k in REQUIRED_LINEAGE):
        problems.append(f"lineage must be an object with keys {list(REQUIRED_LINEAGE)}")
    for key in ("columns", "metrics", "checks", "extra"):
        if not isinstance(manifest.get(key), dict):
            problems.append(f"{key!r} must be an object")
    if not _is_count(manifest.get("num_rows")):
        problems.append(f"num_rows must be a count, got {manifest.get('num_rows')!r}")
    shards = manifest.get("shards")
    if not isinstance(shards, list) or not shards:
        problems.append("shards must be a non-empty list")
    return problems


def _shard_problems(i: int, shard: object) -> list[str]:
    if not isinstance(shard, dict) or any(k not in shard for k in _SHARD_KEYS):
        return [f"shard entry {i} must be an object with keys {list(_SHARD_KEYS)}"]
    name, problems = shard["name"], []
    if name != shard_name(i):
        problems.append(
            f"shard entry {i} is named {name!r}; entry {i} must be {shard_name(i)!r} "
            "(names are fixed by position: no paths, no reordering)"
        )
    if not isinstance(shard["sha256"], str) or not _HEX64.fullmatch(shard["sha256"]):
        problems.append(f"shard entry {i}: sha256 is not 64 hex digits")
    counts = [shard[k] for k in ("bytes", "rows", "row_start", "row_end")]
    groups = shard["row_groups"]
    if not all(_is_count(c) for c in counts):
        problems.append(f"shard entry {i}: bytes/rows/row_start/row_end must be counts")
    elif not isinstance(groups, list) or not all(_is_count(g) and g > 0 for g in groups):
        problems.append(f"shard entry {i}: row_groups must be a list of positive counts")
    elif sum(groups) != shard["rows"]:
        problems.append(
            f"{name}: row groups {groups[:10]} sum to {sum(groups)}, not rows={shard['rows']}"
        )
    return problems


def manifest_problems(manifest: object, version: str, dataset: str) -> list[str]:
    """Everything wrong with what a manifest says about itself and where it sits (the
    dataset and version directories holding it); empty = consistent."""
    problems = _shape_problems(manifest, version, dataset)
    if problems:
        return problems
    for i, shard in enumerate(manifest["shards"]):
        problems += _shard_problems(i, shard)
    if problems:
        return problems
    expected = 0
    for s in manifest["shards"]:
        if s["row_start"] != expected or s["row_end"] - s["row_start"] != s["rows"]:
            problems.append(
                f"{s['name']}: row range [{s['row_start']}, {s['row_end']}) "
                f"does not follow on from row {expected} with {s['rows']} rows"
            )
        expected = s["row_start"] + s["rows"]
    if expected != manifest["num_rows"]:
        problems.append(f"shards hold {expected} rows, manifest says {manifest['num_rows']}")
    recomputed = claimed_version_id(manifest)
    if recomputed != version:
        problems.append(
            f"version id {version} does not match its content (lineage, shard hashes and "
            f"check verdicts give {recomputed}): the manifest was edited"
        )
    return problems


def _hash(loc: Location) -> tuple[str, int]:
    """sha256 through the package attribute, the one seam tests instrument."""
    import curation.publish as package

    return package.sha256_of(loc)


def _link_problem(vdir: Location, loc: Location, name: str) -> str | None:
    """Local shards must be plain files inside the version directory (no link out)."""
    if loc.is_s3:
        return None
    if os.path.islink(loc.path):
        return f"{name}: is a symbolic link ({os.readlink(loc.path)}); shards must be plain files"
    inside = os.path.realpath(vdir.path) + os.sep
    if not os.path.realpath(loc.path).startswith(inside):
        return f"{name}: resolves outside the version directory"
    return None


def _footer_problems(pf: pq.ParquetFile, shard: dict, columns: dict) -> list[str]:
    meta, name = pf.metadata, shard["name"]
    if meta.num_rows != shard["rows"]:
        return [f"{name}: {meta.num_rows} rows, manifest says {shard['rows']}"]
    groups = [meta.row_group(g).num_rows for g in range(meta.num_row_groups)]
    if groups != shard["row_groups"]:
        return [f"{name}: row groups {groups[:10]}, manifest says {shard['row_groups'][:10]}"]
    actual = {f.name: str(f.type) for f in pf.schema_arrow}
    if actual != columns:
        return [f"{name}: columns {actual}, manifest says {columns}"]
    return []


def _shard_content(vdir: Location, shard: dict, columns: dict, hashed: bool) -> list[str]:
    loc, name = vdir.join(shard["name"]), shard["name"]
    link = _link_problem(vdir, loc, name)
    if link:
        return [link]
    if not storage.exists(loc):
        return [f"{name}: missing"]
    if hashed:
        digest, size = _hash(loc)
        if digest != shard["sha256"] or size != shard["bytes"]:
            return [
                f"{name}: sha256 mismatch (file {digest[:12]}…, manifest {shard['sha256'][:12]}…)"
            ]
    with loc.fs.open_input_file(loc.path) as f:
        pf = pq.ParquetFile(f, pre_buffer=False)
        problems = _footer_problems(pf, shard, columns)
        if not problems and hashed and POSITION in pf.schema_arrow.names:
            problems = _verify_positions(pf, shard)
    return problems


def content_problems(
    version_uri: str, manifest: dict, hash_shards: Iterable[int] | None = None
) -> list[str]:
    """The files against a consistent manifest. Every shard's footer is read (cheap);
    ``hash_shards`` limits the sha256 and position checks to those indices (default all)."""
    vdir = storage.resolve(version_uri)
    shards = manifest["shards"]
    hashed = set(range(len(shards)) if hash_shards is None else hash_shards)
    problems: list[str] = []
    for i, shard in enumerate(shards):
        problems += _shard_content(vdir, shard, manifest["columns"], i in hashed)
    listed = {s["name"] for s in shards}
    extra = [
        f.uri
        for f in storage.list_files(vdir, ".parquet")
        if posixpath.basename(f.path) not in listed
    ]
    if extra:
        problems.append(f"unexpected parquet files not in the manifest: {extra[:10]}")
    return problems


def verify_opened(
    version_uri: str, manifest: dict, hash_shards: Iterable[int] | None = None
) -> list[str]:
    """All problems of one version directory and its manifest (empty = every claim holds)."""
    version_dir = version_uri.rstrip("/")
    version = posixpath.basename(version_dir)
    dataset = posixpath.basename(posixpath.dirname(version_dir))
    return manifest_problems(manifest, version, dataset) or content_problems(
        version_uri, manifest, hash_shards
    )


def _verify_positions(pf: pq.ParquetFile, shard: dict) -> list[str]:
    """The ``_curation_position`` column must count row_start, row_start+1, ... across the shard."""
    start = shard["row_start"]
    for batch in pf.iter_batches(columns=[POSITION], batch_size=1 << 16):
        pos = batch.column(0).to_numpy(zero_copy_only=False)
        expected = np.arange(start, start + len(pos))
        bad = np.flatnonzero(pos != expected)
        if bad.size:
            rows = (start + bad[:10]).tolist()
            return [f"{shard['name']}: position column out of order at global rows {rows}"]
        start += len(pos)
    return []
