"""Finding committed versions: the ``latest`` pointer, manifests, listings, publish times.

Nothing here trusts a file it did not check: a damaged pointer or manifest raises
:class:`curation.storage.DamagedFile` naming it, a manifest is checked for consistency
(:func:`curation.publish.verify.manifest_problems`) before it is handed out, and a listing
reports a damaged manifest and goes on with the others.
"""

import posixpath
import warnings

import pyarrow.fs as pafs

from curation import storage
from curation.publish import verify
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
from curation.storage import DamagedFile, Location
from curation.storage.names import validate_dataset_name, validate_version_id


class ManifestError(ValueError):
    """A committed manifest that contradicts itself or its version id (edited or damaged)."""


def published_at(version_uri: str, manifest: dict | None = None) -> str:
    """When a version was committed ("" if unknown)."""
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
    value = read_json(pointer)
    if not isinstance(value.get("version"), str):
        raise DamagedFile(f"{pointer.uri} has no 'version' string; rerun the publish to rebuild it")
    return validate_version_id(value["version"])


def load_manifest(root: str, dataset: str, version: str) -> dict:
    """The manifest file of a concrete version, parsed strictly but not yet checked."""
    loc = version_loc(root, dataset, version).join(MANIFEST)
    if not storage.exists(loc):
        raise NotPublished(f"version {dataset}/{version} is not published under {root}")
    return read_json(loc)


def _checked(manifest: dict, dataset: str, version: str, where: str) -> dict:
    problems = verify.manifest_problems(manifest, version, dataset)
    if problems:
        raise ManifestError(f"{where}: {'; '.join(problems[:5])}")
    return manifest


def read_manifest(root: str, dataset: str, version: str = "latest") -> dict:
    """The committed, self-consistent manifest of one version."""
    version = resolve_version(root, dataset, version)
    manifest = load_manifest(root, dataset, version)
    return _checked(
        manifest, dataset, version, version_loc(root, dataset, version).join(MANIFEST).uri
    )


def open_version(root: str, dataset: str, version: str = "latest") -> PublishedVersion:
    """A committed version with its checked manifest."""
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
    storage.require_bucket(root_loc)
    names = [n for n in _subdirs(root_loc) if _is_valid_name(n)]
    listed = []
    for name in names:
        found, problems = scan_versions(root, name)
        for problem in problems:
            warnings.warn(f"skipping damaged version: {problem}", RuntimeWarning, stacklevel=2)
        if found:
            listed.append(name)
    return listed


def _is_valid_name(name: str) -> bool:
    try:
        validate_dataset_name(name)
        return True
    except ValueError:
        return False


def scan_versions(root: str, dataset: str) -> tuple[list[PublishedVersion], list[str]]:
    """(committed versions oldest first, problems naming each damaged manifest skipped)."""
    dloc = dataset_loc(root, dataset)
    found, problems = [], []
    for name in _subdirs(dloc):
        mloc = dloc.join(name, MANIFEST)
        if not (_is_valid_name(name) and storage.exists(mloc)):
            continue
        try:
            manifest = _checked(read_json(mloc), dataset, name, mloc.uri)
        except (DamagedFile, ManifestError) as exc:
            problems.append(str(exc))
            continue
        found.append(PublishedVersion(dataset, name, dloc.join(name).uri, manifest))
    found.sort(key=lambda v: (published_at(v.uri, v.manifest), v.version))
    return found, problems


def list_versions(root: str, dataset: str) -> list[PublishedVersion]:
    """Committed versions, oldest first (by publish time, then id); staging dirs are skipped,
    damaged manifests are skipped with a warning naming each."""
    found, problems = scan_versions(root, dataset)
    for problem in problems:
        warnings.warn(f"skipping damaged version: {problem}", RuntimeWarning, stacklevel=2)
    return found


def verify_version(root: str, dataset: str, version: str = "latest") -> list[str]:
    """Problems found (empty = ok); a missing, unreadable or damaged version is a problem."""
    try:
        version = resolve_version(root, dataset, version)
        manifest = load_manifest(root, dataset, version)
    except (NotPublished, DamagedFile) as exc:  # an unsafe name is raised, not reported
        return [str(exc)]
    return verify.verify_opened(version_loc(root, dataset, version).uri, manifest)
