"""Publishing: copy ordered shards into an immutable version and commit its manifest last.

A storage failure raises :class:`PublishStorageError`; rerunning the same call is safe.
The publish time and the source paths live in ``.publish-info/<version>.json`` (a hidden
name, never listed as a version), so manifests stay byte-identical across machines.
"""

import math
import os
import posixpath
import time
import warnings

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from curation import storage
from curation.publish.lineage import Lineage
from curation.publish.manifest import (
    FORMAT_VERSION,
    LATEST,
    MANIFEST,
    REQUIRED_COLUMNS,
    REQUIRED_LINEAGE,
    NotPublished,
    PublishedVersion,
    PublishError,
    PublishRefused,
    PublishStorageError,
    canonical_json,
    dataset_loc,
    info_loc,
    pretty_json,
    read_json,
    shard_name,
    version_id,
    version_loc,
)
from curation.storage import Location
from curation.storage.hashing import copy_hashing, sha256_of
from curation.storage.intact import parquet_problem
from curation.storage.names import validate_dataset_name

_STALE_TMP_SECONDS = 3600


def _remove_stale_tmp(version_dir: Location) -> None:
    """Delete temp files a crashed publisher left behind (old enough not to be in flight)."""
    if not storage.exists(version_dir):
        return
    now = time.time()
    for info in version_dir.fs.get_file_info(pafs.FileSelector(version_dir.path)):
        name = posixpath.basename(info.path)
        if info.type != pafs.FileType.File or not name.endswith(".tmp"):
            continue
        mtime = info.mtime.timestamp() if info.mtime is not None else 0.0
        if now - mtime > _STALE_TMP_SECONDS:
            version_dir.fs.delete_file(info.path)


# ---------------------------------------------------------------- input validation


def _check_lineage(lineage: dict) -> None:
    if not isinstance(lineage, dict):
        raise PublishError(f"lineage must be a dict, got {type(lineage).__name__}")
    missing = [k for k in REQUIRED_LINEAGE if k not in lineage]
    if missing:
        raise PublishError(f"lineage is missing required keys: {missing}")
    try:
        canonical_json(lineage)
    except (TypeError, ValueError) as exc:
        raise PublishError(f"lineage is not strict JSON (NaN/Infinity or objects): {exc}") from None


def finite_metrics(metrics: dict | None) -> dict:
    """Metrics with every non-finite number replaced by null and named under
    ``not_computable`` (a NaN is not JSON, and not a measurement either)."""
    bad: list[str] = []

    def clean(value, path):
        if isinstance(value, dict):
            return {k: clean(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v, f"{path}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, float | np.floating) and not math.isfinite(float(value)):
            bad.append(path)
            return None
        return value.item() if isinstance(value, np.generic) else value

    out = clean(dict(metrics or {}), "")
    if bad:
        out["not_computable"] = sorted(set(out.get("not_computable") or []) | set(bad))
    return out


def _check_checks(checks: dict | None) -> None:
    """Refuse when any blocking check failed; a check without ``blocking`` counts as blocking."""
    if not checks:
        return
    bad = [n for n, c in checks.items() if not isinstance(c, dict) or "passed" not in c]
    if bad:
        raise PublishError(f"checks need a dict with a 'passed' key; malformed: {bad[:10]}")
    failed = [n for n, c in checks.items() if not c["passed"] and c.get("blocking", True)]
    if failed:
        raise PublishRefused(
            f"refusing to publish: {len(failed)} blocking check(s) failed: {sorted(failed)[:10]}"
        )


def shard_layout(loc: Location) -> tuple[pa.Schema, int, list[int]]:
    """(schema, rows, rows per row group) from the parquet footer only."""
    with loc.fs.open_input_file(loc.path) as f:
        meta = pq.ParquetFile(f).metadata
        schema = meta.schema.to_arrow_schema()
        groups = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    return schema, meta.num_rows, groups


def _inspect_shards(shards: list[str]) -> list[dict]:
    """Hash and inspect every input shard; errors name up to 10 offending files."""
    if not shards:
        raise PublishError("no shards given")
    infos, missing, corrupt = [], [], []
    for uri in shards:
        loc = storage.resolve(uri)
        if not storage.exists(loc):
            missing.append(loc.uri)
            continue
        try:
            schema, rows, groups = shard_layout(loc)
        except pa.ArrowInvalid as exc:
            corrupt.append(f"{loc.uri} ({exc})")
            continue
        digest, size = sha256_of(loc)
        infos.append(
            {
                "loc": loc,
                "schema": schema,
                "rows": rows,
                "row_groups": groups,
                "sha256": digest,
                "bytes": size,
            }
        )
    if missing:
        raise PublishError(f"{len(missing)} shard(s) not found: {missing[:10]}")
    if corrupt:
        raise PublishError(
            f"{len(corrupt)} shard(s) are not readable parquet (corrupt or "
            f"truncated): {corrupt[:10]}"
        )
    lacking = [i["loc"].uri for i in infos if not set(REQUIRED_COLUMNS) <= set(i["schema"].names)]
    if lacking:
        raise PublishError(f"shards lack columns {list(REQUIRED_COLUMNS)}: {lacking[:10]}")
    first = infos[0]["schema"].remove_metadata()
    odd = [i["loc"].uri for i in infos if not i["schema"].remove_metadata().equals(first)]
    if odd:
        raise PublishError(f"shards differ in schema from {infos[0]['loc'].uri}: {odd[:10]}")
    return infos


def _build_manifest(dataset, version, lineage, infos, metrics, checks, extra) -> dict:
    shards, start = [], 0
    for i, info in enumerate(infos):
        shards.append(
            {
                "name": shard_name(i),
                "sha256": info["sha256"],
                "bytes": info["bytes"],
                "rows": info["rows"],
                "row_start": start,
                "row_end": start + info["rows"],
                "row_groups": info["row_groups"],
            }
        )
        start += info["rows"]
    schema = infos[0]["schema"]
    return {
        "format": FORMAT_VERSION,
        "dataset": dataset,
        "version": version,
        "lineage": lineage,
        "num_rows": start,
        "columns": {f.name: str(f.type) for f in schema},
        "shards": shards,
        "metrics": metrics or {},
        "checks": checks or {},
        "extra": extra or {},
    }


# ---------------------------------------------------------------- publishing


def publish_version(
    root: str,
    dataset: str,
    shards: list[str],
    lineage: "dict | Lineage",
    *,
    metrics: dict | None = None,
    checks: dict | None = None,
    extra: dict | None = None,
) -> PublishedVersion:
    """Publish ordered shards as an immutable version and move ``latest`` to it.

    Shards are copied as ``part-NNNNN.parquet`` in the given order; ``manifest.json`` is
    written last and only if absent, so readers never see a partial version and an
    existing version is never modified (publishing it again only moves ``latest`` back to
    it, which also completes a run that crashed between the commit and the pointer move).
    """
    validate_dataset_name(dataset)
    if isinstance(lineage, Lineage):
        lineage = lineage.as_dict()
    _check_lineage(lineage)
    _check_checks(checks)
    metrics = finite_metrics(metrics)
    try:
        canonical_json({"checks": checks or {}, "extra": extra or {}})
    except (TypeError, ValueError) as exc:
        raise PublishError(f"checks/extra are not strict JSON: {exc}") from None
    infos = _inspect_shards(list(shards))
    version = version_id(lineage, [i["sha256"] for i in infos], checks)
    vdir = version_loc(root, dataset, version)
    step = "staging shards"
    try:
        manifest = _commit(root, dataset, version, vdir, lineage, infos, metrics, checks, extra)
        step = "moving the latest pointer"
        set_latest(root, dataset, version)
    except OSError as exc:
        state = (
            "the version is committed but latest was not moved"
            if step.startswith("moving")
            else "nothing was committed"
        )
        raise PublishStorageError(
            f"storage error while {step} for {dataset}/{version} under {root}: {exc}; "
            f"{state}; rerun the publish when the storage is reachable"
        ) from exc
    return PublishedVersion(dataset, version, vdir.uri, manifest)


def _commit(root, dataset, version, vdir, lineage, infos, metrics, checks, extra) -> dict:
    """Stage shards and write the manifest once; returns the committed manifest."""
    manifest_loc = vdir.join(MANIFEST)
    if storage.exists(manifest_loc):
        manifest = read_json(manifest_loc)
        info = _info_recorded(info_loc(root, dataset, version))
        stamps = dict(info.get("stamps") or {})
        if _repair(vdir, manifest, infos, stamps):  # keep when it was published; new stamps
            stamps.update({e["name"]: _stamp(vdir.join(e["name"])) for e in manifest["shards"]})
            info = {**(info or _publish_info(infos, {})), "stamps": stamps}
            storage.atomic_write(info_loc(root, dataset, version), pretty_json(info))
        return manifest
    _remove_stale_tmp(vdir)
    manifest = _build_manifest(dataset, version, lineage, infos, metrics, checks, extra)
    for info, entry in zip(infos, manifest["shards"], strict=True):
        _stage_shard(info, vdir.join(entry["name"]))
    stamps = {e["name"]: _stamp(vdir.join(e["name"])) for e in manifest["shards"]}
    storage.atomic_write(
        info_loc(root, dataset, version), pretty_json(_publish_info(infos, stamps))
    )
    if not storage.create_once(manifest_loc, pretty_json(manifest)):
        manifest = read_json(manifest_loc)  # a concurrent publisher committed first
    return manifest


def _stamp(loc: Location) -> int | None:
    """A local file's modification time (ns) as written; None on object stores."""
    return None if loc.is_s3 else os.stat(loc.path).st_mtime_ns


def _info_recorded(loc: Location) -> dict:
    try:
        return read_json(loc)
    except (FileNotFoundError, storage.DamagedFile):
        return {}


def _shard_problem(loc: Location, entry: dict, stamp: int | None) -> str | None:
    """Size and footer as the manifest records them; a file rewritten since publishing
    (another modification time) is hashed: cost only where something touched it."""
    problem = parquet_problem(loc, rows=entry["rows"], size=entry["bytes"])
    if problem is None and stamp is not None and _stamp(loc) != stamp:
        if sha256_of(loc)[0] != entry["sha256"]:
            problem = "its bytes changed since publishing (sha256 differs)"
    return problem


def _repair(vdir: Location, manifest: dict, infos: list[dict], stamps: dict) -> list[str]:
    """Republishing an existing version checks its shards cheaply and restores a damaged
    one from the run's own shard, whose sha256 is the one the manifest records (same id,
    same bytes); the run stops when it cannot. Returns the names restored."""
    restored = []
    for info, entry in zip(infos, manifest["shards"], strict=True):
        loc = vdir.join(entry["name"])
        problem = _shard_problem(loc, entry, stamps.get(entry["name"]))
        if problem is None:
            continue
        if info["sha256"] != entry["sha256"]:
            raise PublishError(
                f"published shard {loc.uri} is damaged ({problem}) and this run's shard has "
                f"other bytes; restore it from a copy or delete the version to republish"
            )
        warnings.warn(
            f"published shard {loc.uri} was damaged ({problem}); restored to the bytes its "
            f"manifest records (sha256 {entry['sha256'][:12]}…)",
            RuntimeWarning,
            3,
        )
        _stage_shard(info, loc)
        restored.append(entry["name"])
    return restored


def _publish_info(infos: list[dict], stamps: dict) -> dict:
    """Where and when (and each shard's modification time as written, so a later run can
    tell a touched shard cheaply): kept out of the manifest so manifests stay identical."""
    return {
        "published_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "sources": [i["loc"].uri for i in infos],
        "stamps": {k: v for k, v in stamps.items() if v is not None},
    }


def _stage_shard(info: dict, dst: Location) -> None:
    """Copy one shard into the version directory, atomically per file."""
    target = dst if dst.is_s3 else storage.tmp_sibling(dst)
    digest, _ = copy_hashing(info["loc"], target)
    if digest != info["sha256"]:
        if not dst.is_s3:
            target.fs.delete_file(target.path)
        raise PublishError(f"shard changed while publishing: {info['loc'].uri}")
    if not dst.is_s3:
        dst.fs.move(target.path, dst.path)


def set_latest(root: str, dataset: str, version: str) -> None:
    """Point ``latest`` at a committed version (atomic replace; older versions stay)."""
    vdir = version_loc(root, dataset, version)
    if not storage.exists(vdir.join(MANIFEST)):
        raise NotPublished(f"cannot point latest at uncommitted version {dataset}/{version}")
    pointer = dataset_loc(root, dataset).join(LATEST)
    storage.atomic_write(pointer, pretty_json({"version": version}))  # rebuilds a damaged one
