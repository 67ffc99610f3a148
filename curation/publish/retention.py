"""Retention of published versions: keep the newest N of each dataset, never ``latest`` and
never a version an operator pins by name.

Versions are immutable and each recipe writes a full copy of the corpus, so old versions
pile up. A prune is planned first (what goes, what stays and why, the bytes it frees) and
applied only when asked. A version is un-committed before its files go: its manifest is
deleted first, so a prune cut short leaves a directory no reader lists, never a version
with missing shards.
"""

from dataclasses import dataclass

import pyarrow.fs as pafs

from curation import storage
from curation.publish.catalog import list_datasets, published_at, resolve_version, scan_versions
from curation.publish.manifest import MANIFEST, NotPublished, info_loc, version_loc
from curation.storage import Location


@dataclass(frozen=True)
class PruneItem:
    """One version and what a prune does with it."""

    dataset: str
    version: str
    published_at: str
    bytes: int
    keep: bool
    reason: str


def tree_bytes(loc: Location) -> int:
    """Bytes of every file under ``loc`` (local or S3)."""
    infos = loc.fs.get_file_info(pafs.FileSelector(loc.path, recursive=True, allow_not_found=True))
    return sum(i.size or 0 for i in infos if i.type == pafs.FileType.File)


def plan_prune(
    root: str, keep: int, datasets: list[str] | None = None, pins: frozenset[str] = frozenset()
) -> list[PruneItem]:
    """Every committed version of ``datasets`` (default: all), newest first per dataset,
    marked kept (the newest ``keep``, ``latest``, a pinned version) or to delete."""
    if keep < 1:
        raise ValueError(f"--keep must be >= 1 (latest is always kept), got {keep}")
    items = []
    for dataset in datasets or list_datasets(root):
        versions, _damaged = scan_versions(root, dataset)
        if not versions:
            raise NotPublished(f"dataset {dataset!r} has no published version under {root}")
        try:
            latest = resolve_version(root, dataset, "latest")
        except (ValueError, OSError):
            latest = None  # a damaged pointer: keep everything rather than guess
        dated = sorted(
            ((published_at(v.uri, v.manifest), v) for v in versions),
            key=lambda pair: (pair[0], pair[1].version),
            reverse=True,
        )
        for rank, (when, v) in enumerate(dated):
            if latest is None:
                keep_it, reason = True, "latest pointer unreadable: kept"
            elif v.version == latest:
                keep_it, reason = True, "latest"
            elif v.version in pins:
                keep_it, reason = True, "pinned"
            elif rank < keep:
                keep_it, reason = True, f"newest {keep}"
            else:
                keep_it, reason = False, "older than the newest kept"
            size = tree_bytes(version_loc(root, dataset, v.version))
            items.append(PruneItem(dataset, v.version, when, size, keep_it, reason))
    return items


def apply_prune(root: str, items: list[PruneItem]) -> int:
    """Delete the versions ``items`` marks for deletion; the bytes freed."""
    freed = 0
    for item in items:
        if item.keep:
            continue
        loc = version_loc(root, item.dataset, item.version)
        manifest = loc.join(MANIFEST)
        if storage.exists(manifest):
            loc.fs.delete_file(manifest.path)  # un-committed first: no reader lists it now
        loc.fs.delete_dir(loc.path)
        info = info_loc(root, item.dataset, item.version)
        if storage.exists(info):
            info.fs.delete_file(info.path)
        freed += item.bytes
    return freed
