"""Versioned, immutable published datasets that training jobs can trust.

Layout under a root (local path or ``s3://``)::

    <root>/<dataset>/latest.json            {"version": "<id>"}, moved atomically
    <root>/<dataset>/<version>/part-00000.parquet ...
    <root>/<dataset>/<version>/manifest.json  written last: the commit point
    <root>/<dataset>/.publish-info/<version>.json  {"published_at", "sources"}

A version directory without ``manifest.json`` does not exist for anyone: that is how a
crash mid-publish stays invisible. The version id is a hash of the lineage and the shard
contents, so publishing the same thing twice returns the existing version untouched.
The manifest holds content only (no clock, no source paths), so the same inputs give a
byte-identical version directory on any machine; the publish time and the source paths
live in ``.publish-info/<version>.json`` (a hidden name, never listed as a version).
"""

import hashlib
import json
import os
import posixpath
import time
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from curation import storage
from curation.names import validate_dataset_name, validate_version_id
from curation.storage import Location

MANIFEST = "manifest.json"
PUBLISH_INFO = ".publish-info"
LATEST = "latest.json"
FORMAT_VERSION = 1
REQUIRED_LINEAGE = (
    "corpus_version",
    "score_version",
    "method",
    "params",
    "seed",
    "code_version",
)
REQUIRED_COLUMNS = ("id", "text")
_CHUNK = 8 << 20
_STALE_TMP_SECONDS = 3600


class PublishError(ValueError):
    """Inputs that cannot be published (missing lineage, bad shards, bad checks)."""


class PublishRefused(PublishError):
    """A blocking quality check failed: the ordering must not reach training jobs."""


class NotPublished(ValueError):
    """The dataset or version asked for has no committed manifest."""


class PublishStorageError(OSError):
    """The storage failed mid-publish (unreachable, full, refused); safe to retry later."""


@dataclass(frozen=True)
class PublishedVersion:
    """One committed version: what a training job pins."""

    dataset: str
    version: str
    uri: str
    manifest: dict = field(repr=False)

    @property
    def num_rows(self) -> int:
        return int(self.manifest["num_rows"])

    @property
    def shard_uris(self) -> list[str]:
        """Shard URIs in global order (what a plain parquet reader should be given)."""
        loc = storage.resolve(self.uri)
        return [loc.join(s["name"]).uri for s in self.manifest["shards"]]


# ---------------------------------------------------------------- small helpers


def canonical_json(obj: object) -> str:
    """Key-sorted compact JSON, so equal content always hashes equal."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=_jsonable)


def _jsonable(obj: object) -> object:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _pretty_json(obj: object) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True, default=_jsonable) + "\n").encode()


def sha256_of(loc: Location) -> tuple[str, int]:
    """(hex digest, size in bytes) of a file, streamed in chunks (bounded memory)."""
    digest = hashlib.sha256()
    size = 0
    with loc.fs.open_input_stream(loc.path) as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _copy_hashing(src: Location, dst: Location) -> str:
    """Stream-copy src to dst, hashing what was copied (catches a source changing mid-publish)."""
    digest = hashlib.sha256()
    if not dst.is_s3:
        dst.fs.create_dir(posixpath.dirname(dst.path), recursive=True)
    with src.fs.open_input_stream(src.path) as fin, dst.fs.open_output_stream(dst.path) as fout:
        while chunk := fin.read(_CHUNK):
            digest.update(chunk)
            fout.write(chunk)
    return digest.hexdigest()


def _create_once(loc: Location, data: bytes) -> bool:
    """Create ``loc`` only if absent; False if another writer got there first.

    Locally ``os.link`` is an atomic create-if-absent. S3 (through pyarrow) has no
    conditional PUT, so two racing writers of the same version both write; the content
    is byte-identical (no clock or paths in it) and so are the shards.
    """
    if loc.is_s3:
        if storage.exists(loc):
            return False
        storage.write_bytes(loc, data)
        return True
    tmp = storage.tmp_sibling(loc)
    storage.write_bytes(tmp, data)
    try:
        os.link(tmp.path, loc.path)
        return True
    except FileExistsError:
        return False
    finally:
        os.unlink(tmp.path)


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


def _dataset_loc(root: str, dataset: str) -> Location:
    return storage.resolve(root).join(validate_dataset_name(dataset))


def _version_loc(root: str, dataset: str, version: str) -> Location:
    return _dataset_loc(root, dataset).join(validate_version_id(version))


def _read_json(loc: Location) -> dict:
    return json.loads(storage.read_bytes(loc))


# ---------------------------------------------------------------- input validation


def _check_lineage(lineage: dict) -> None:
    if not isinstance(lineage, dict):
        raise PublishError(f"lineage must be a dict, got {type(lineage).__name__}")
    missing = [k for k in REQUIRED_LINEAGE if k not in lineage]
    if missing:
        raise PublishError(f"lineage is missing required keys: {missing}")
    try:
        canonical_json(lineage)
    except TypeError as exc:
        raise PublishError(f"lineage is not JSON serialisable: {exc}") from None


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


def _shard_layout(loc: Location) -> tuple[pa.Schema, int, list[int]]:
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
            schema, rows, groups = _shard_layout(loc)
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


def version_id(lineage: dict, shard_sha256s: list[str]) -> str:
    """Content address: the same lineage and shard bytes always give the same id."""
    payload = canonical_json({"lineage": lineage, "shards": shard_sha256s})
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _build_manifest(dataset, version, lineage, infos, metrics, checks, extra) -> dict:
    shards, start = [], 0
    for i, info in enumerate(infos):
        shards.append(
            {
                "name": f"part-{i:05d}.parquet",
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
    lineage: dict,
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
    A storage failure raises :class:`PublishStorageError`; rerunning the same call is safe.
    """
    validate_dataset_name(dataset)
    _check_lineage(lineage)
    _check_checks(checks)
    infos = _inspect_shards(list(shards))
    version = version_id(lineage, [i["sha256"] for i in infos])
    vdir = _version_loc(root, dataset, version)
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
        return _read_json(manifest_loc)
    _remove_stale_tmp(vdir)
    manifest = _build_manifest(dataset, version, lineage, infos, metrics, checks, extra)
    for info, entry in zip(infos, manifest["shards"], strict=True):
        _stage_shard(info, vdir.join(entry["name"]))
    storage.atomic_write(_info_loc(root, dataset, version), _pretty_json(_publish_info(infos)))
    if not _create_once(manifest_loc, _pretty_json(manifest)):
        manifest = _read_json(manifest_loc)  # a concurrent publisher committed first
    return manifest


def _publish_info(infos: list[dict]) -> dict:
    """Where and when: kept out of the manifest so manifests stay byte-identical."""
    return {
        "published_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "sources": [i["loc"].uri for i in infos],
    }


def _info_loc(root: str, dataset: str, version: str) -> Location:
    return _dataset_loc(root, dataset).join(PUBLISH_INFO, f"{validate_version_id(version)}.json")


def published_at(version_uri: str, manifest: dict | None = None) -> str:
    """When a version was committed ("" if unknown; old manifests carry it inline)."""
    if manifest and manifest.get("published_at"):
        return manifest["published_at"]
    dataset_dir, version = posixpath.split(version_uri.rstrip("/"))
    try:
        loc = storage.resolve(dataset_dir).join(PUBLISH_INFO, f"{version}.json")
        return str(_read_json(loc).get("published_at", ""))
    except (OSError, ValueError):
        return ""


def _stage_shard(info: dict, dst: Location) -> None:
    """Copy one shard into the version directory, atomically per file."""
    target = dst if dst.is_s3 else storage.tmp_sibling(dst)
    digest = _copy_hashing(info["loc"], target)
    if digest != info["sha256"]:
        if not dst.is_s3:
            target.fs.delete_file(target.path)
        raise PublishError(f"shard changed while publishing: {info['loc'].uri}")
    if not dst.is_s3:
        dst.fs.move(target.path, dst.path)


def set_latest(root: str, dataset: str, version: str) -> None:
    """Point ``latest`` at a committed version (atomic replace; older versions stay)."""
    vdir = _version_loc(root, dataset, version)
    if not storage.exists(vdir.join(MANIFEST)):
        raise NotPublished(f"cannot point latest at uncommitted version {dataset}/{version}")
    pointer = _dataset_loc(root, dataset).join(LATEST)
    storage.atomic_write(pointer, _pretty_json({"version": version}))


# ---------------------------------------------------------------- reading back


def resolve_version(root: str, dataset: str, version: str = "latest") -> str:
    """Turn ``latest`` into a concrete version id (pin it for reproducible jobs)."""
    if version != "latest":
        return validate_version_id(version)
    pointer = _dataset_loc(root, dataset).join(LATEST)
    if not storage.exists(pointer):
        raise NotPublished(f"dataset {dataset!r} has no published version under {root}")
    return validate_version_id(_read_json(pointer)["version"])


def read_manifest(root: str, dataset: str, version: str = "latest") -> dict:
    """The committed manifest of one version; staging directories raise NotPublished."""
    version = resolve_version(root, dataset, version)
    loc = _version_loc(root, dataset, version).join(MANIFEST)
    if not storage.exists(loc):
        raise NotPublished(f"version {dataset}/{version} is not published under {root}")
    return _read_json(loc)


def open_version(root: str, dataset: str, version: str = "latest") -> PublishedVersion:
    """A committed version with its manifest."""
    manifest = read_manifest(root, dataset, version)
    vdir = _version_loc(root, dataset, manifest["version"])
    return PublishedVersion(dataset, manifest["version"], vdir.uri, manifest)


def _subdirs(loc: Location) -> list[str]:
    if not storage.exists(loc):
        return []
    infos = loc.fs.get_file_info(pafs.FileSelector(loc.path))
    return sorted(posixpath.basename(i.path) for i in infos if i.type == pafs.FileType.Directory)


def list_datasets(root: str) -> list[str]:
    """Names of datasets with at least one committed version."""
    root_loc = storage.resolve(root)
    names = [n for n in _subdirs(root_loc) if _is_valid_name(n)]
    return [n for n in names if list_versions(root, n)]


def _is_valid_name(name: str) -> bool:
    try:
        validate_dataset_name(name)
        return True
    except ValueError:
        return False


def list_versions(root: str, dataset: str) -> list[PublishedVersion]:
    """Committed versions, oldest first (by publish time, then id); staging dirs are skipped."""
    dloc = _dataset_loc(root, dataset)
    found = []
    for name in _subdirs(dloc):
        mloc = dloc.join(name, MANIFEST)
        if _is_valid_name(name) and storage.exists(mloc):
            found.append(PublishedVersion(dataset, name, dloc.join(name).uri, _read_json(mloc)))
    return sorted(found, key=lambda v: (published_at(v.uri, v.manifest), v.version))


# ---------------------------------------------------------------- verification


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


# ---------------------------------------------------------------- diff


def _column(pv: PublishedVersion, name: str) -> pa.Array:
    vdir = storage.resolve(pv.uri)
    parts = []
    for s in pv.manifest["shards"]:
        loc = vdir.join(s["name"])
        with loc.fs.open_input_file(loc.path) as f:
            parts.append(pq.read_table(f, columns=[name]).column(0))
    chunks = [c for p in parts for c in p.chunks]
    return pa.chunked_array(chunks, type=parts[0].type).combine_chunks()


def diff_versions(root: str, dataset: str, a: str, b: str) -> dict:
    """What changed from version a to b: lineage, metrics, rows, ids, positions, score columns."""
    va, vb = open_version(root, dataset, a), open_version(root, dataset, b)
    ma, mb = va.manifest, vb.manifest
    ids_a, ids_b = _column(va, "id"), _column(vb, "id")
    where_in_b = pc.index_in(ids_a, value_set=ids_b).to_numpy(zero_copy_only=False)
    common = ~np.isnan(where_in_b.astype(float))
    pos_a = np.flatnonzero(common)
    pos_b = where_in_b[common].astype(np.int64)
    moved = pos_a != pos_b
    only_a = ids_a.filter(pa.array(~common))
    only_b_mask = ~pc.is_in(ids_b, value_set=ids_a).to_numpy(zero_copy_only=False)
    only_b = ids_b.filter(pa.array(only_b_mask))
    return {
        "a": va.version,
        "b": vb.version,
        "lineage": _dict_diff(ma["lineage"], mb["lineage"]),
        "metrics": _dict_diff(ma.get("metrics", {}), mb.get("metrics", {})),
        "rows": {"a": ma["num_rows"], "b": mb["num_rows"]},
        "ids_only_in_a": {"count": len(only_a), "examples": only_a[:10].to_pylist()},
        "ids_only_in_b": {"count": len(only_b), "examples": only_b[:10].to_pylist()},
        "positions": _displacement(pos_a, pos_b, moved, ids_a),
        "scores": _score_diff(va, vb, ma, mb, pos_a, pos_b),
    }


def _dict_diff(a: dict, b: dict) -> dict:
    keys = sorted(set(a) | set(b))
    return {
        k: {"a": a.get(k), "b": b.get(k)}
        for k in keys
        if canonical_json(a.get(k)) != canonical_json(b.get(k))
    }


def _displacement(pos_a, pos_b, moved, ids_a) -> dict:
    delta = np.abs(pos_a - pos_b)
    order = np.argsort(-delta, kind="stable")[:10]
    return {
        "common": int(len(pos_a)),
        "moved": int(moved.sum()),
        "max_displacement": int(delta.max()) if delta.size else 0,
        "mean_abs_displacement": float(delta.mean()) if delta.size else 0.0,
        "largest_moves": [
            {"id": ids_a[int(pos_a[i])].as_py(), "a": int(pos_a[i]), "b": int(pos_b[i])}
            for i in order
            if delta[i] > 0
        ],
    }


def _score_diff(va, vb, ma, mb, pos_a, pos_b) -> dict:
    """Per float column present in both: how many common ids changed value, and by how much."""
    cols = [
        c
        for c, t in ma["columns"].items()
        if t in ("float", "double", "halffloat") and mb["columns"].get(c) == t
    ]
    out = {}
    for c in cols:
        xa = _column(va, c).to_numpy(zero_copy_only=False)[pos_a]
        xb = _column(vb, c).to_numpy(zero_copy_only=False)[pos_b]
        diff = np.abs(xa - xb)
        changed = ~((xa == xb) | (np.isnan(xa) & np.isnan(xb)))
        out[c] = {
            "changed": int(changed.sum()),
            "max_abs_diff": float(np.nanmax(diff)) if changed.any() else 0.0,
        }
    return out
