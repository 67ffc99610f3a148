"""Finding committed versions: the ``latest`` pointer, manifests, listings, publish times."""

import posixpath

import pyarrow.fs as pafs

from curation import storage
from curation.names import validate_dataset_name, validate_version_id
from curation.publish.manifest import (
    LATEST,
    MANIFEST,
    PUBLISH_INFO,
    NotPublished,
    PublishedVersion,
    dataset_loc,
    read_json,
    version_loc,
)
from curation.storage import Location


def published_at(version_uri: str, manifest: dict | None = None) -> str:
    """When a version was committed ("" if unknown; old manifests carry it inline)."""
    if manifest and manifest.get("published_at"):
        return manifest["published_at"]
    dataset_dir, version = posixpath.split(version_uri.rstrip("/"))
    try:
        loc = storage.resolve(dataset_dir).join(PUBLISH_INFO, f"{version}.json")
        return str(read_json(loc).get("published_at", ""))
    except (OSError, ValueError):
        return ""


def resolve_version(root: str, dataset: str, version: str = "latest") -> str:
    """Turn ``latest`` into a concrete version id (pin it for reproducible jobs)."""
    if version != "latest":
        return validate_version_id(version)
    pointer = dataset_loc(root, dataset).join(LATEST)
    if not storage.exists(pointer):
        raise NotPublished(f"dataset {dataset!r} has no published version under {root}")
    return validate_version_id(read_json(pointer)["version"])


def read_manifest(root: str, dataset: str, version: str = "latest") -> dict:
    """The committed manifest of one version; staging directories raise NotPublished."""
    version = resolve_version(root, dataset, version)
    loc = version_loc(root, dataset, version).join(MANIFEST)
    if not storage.exists(loc):
        raise NotPublished(f"version {dataset}/{version} is not published under {root}")
    return read_json(loc)


def open_version(root: str, dataset: str, version: str = "latest") -> PublishedVersion:
    """A committed version with its manifest."""
    manifest = read_manifest(root, dataset, version)
    vdir = version_loc(root, dataset, manifest["version"])
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
    dloc = dataset_loc(root, dataset)
    found = []
    for name in _subdirs(dloc):
        mloc = dloc.join(name, MANIFEST)
        if _is_valid_name(name) and storage.exists(mloc):
            found.append(PublishedVersion(dataset, name, dloc.join(name).uri, read_json(mloc)))
    return sorted(found, key=lambda v: (published_at(v.uri, v.manifest), v.version))
