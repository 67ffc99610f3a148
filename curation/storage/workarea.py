"""Cleaning the work area: caches a run rebuilds when they are missing (scores, orderings,
shard sets, probe runs, reports, staged corpora, plans, spill), removed by age.

Every entry is content-addressed (``work/<kind>/[<recipe>/]<key>``, ``staging/<key>``), so
removing one costs a recomputation, never a wrong result. What the stored refs of the
current materializations point at (JSON files under the root, outside the caches and the
published datasets) is kept whatever its age, so the latest results stay loadable. Planned
first; deleted only when asked.
"""

import json
import re
import time
from dataclasses import dataclass

import pyarrow.fs as pafs

from curation.storage.files import Location, read_bytes, resolve

#: kinds whose entries sit one level deeper, under the recipe's name
PER_RECIPE = ("orderings", "shards")
KINDS = ("scores", "orderings", "shards", "probes", "reports", "plans", "spill")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass(frozen=True)
class WorkEntry:
    """One cache entry and what a clean does with it."""

    uri: str
    kind: str
    bytes: int
    age_s: float
    keep: bool
    reason: str


def parse_age(text: str) -> float:
    """``30m``, ``12h``, ``7d``, ``2w`` in seconds."""
    match = _DURATION.match(text.strip())
    if not match:
        raise ValueError(f"--older-than expects a number and s/m/h/d/w (e.g. 7d), got {text!r}")
    return float(match.group(1)) * _SECONDS[match.group(2)]


def _children(loc: Location) -> list[Location]:
    infos = loc.fs.get_file_info(pafs.FileSelector(loc.path, allow_not_found=True))
    return [loc.join(i.base_name) for i in infos if i.type == pafs.FileType.Directory]


def _entries(root: str) -> list[tuple[str, Location]]:
    base = resolve(root)
    found = [("staging", loc) for loc in _children(base.join("staging"))]
    for kind in KINDS:
        top = _children(base.join("work", kind))
        if kind in PER_RECIPE:
            found += [(kind, loc) for recipe in top for loc in _children(recipe)]
        else:
            found += [(kind, loc) for loc in top]
    return found


def _size_and_newest(loc: Location) -> tuple[int, float]:
    infos = loc.fs.get_file_info(pafs.FileSelector(loc.path, recursive=True, allow_not_found=True))
    files = [i for i in infos if i.type == pafs.FileType.File]
    newest = max((i.mtime.timestamp() for i in files if i.mtime), default=0.0)
    return sum(i.size or 0 for i in files), newest


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def current_refs(root: str) -> set[str]:
    """Every string in the JSON refs stored under the root outside the caches and the
    published datasets (the current materializations' refs)."""
    base = resolve(root)
    named: set[str] = set()
    infos = []
    for top in _children(base):
        if top.path.rstrip("/").rsplit("/", 1)[-1] in ("work", "staging", "published"):
            continue
        infos += top.fs.get_file_info(
            pafs.FileSelector(top.path, recursive=True, allow_not_found=True)
        )
    for info in infos:
        if info.type != pafs.FileType.File or not info.path.endswith(".json"):
            continue
        loc = Location(base.fs, info.path, f"s3://{info.path}" if base.is_s3 else info.path)
        try:
            named.update(_strings(json.loads(read_bytes(loc))))
        except (OSError, ValueError):
            continue  # an unreadable ref protects nothing; the run that wrote it rewrites it
    return named


def plan_clean(root: str, older_than_s: float, now: float | None = None) -> list[WorkEntry]:
    """Every work entry, marked kept (in use, or newer than ``older_than_s``) or to delete."""
    now = time.time() if now is None else now
    in_use = current_refs(root)
    out = []
    for kind, loc in _entries(root):
        size, newest = _size_and_newest(loc)
        age = max(0.0, now - newest)
        used = any(s == loc.uri or s.startswith(loc.uri + "/") for s in in_use)
        if used:
            keep, reason = True, "used by the current materializations"
        elif age < older_than_s:
            keep, reason = True, "recent"
        else:
            keep, reason = False, "old"
        out.append(WorkEntry(loc.uri, kind, size, age, keep, reason))
    return out


def apply_clean(entries: list[WorkEntry]) -> int:
    """Delete the entries marked for deletion; the bytes freed."""
    freed = 0
    for entry in entries:
        if not entry.keep:
            loc = resolve(entry.uri)
            loc.fs.delete_dir(loc.path)
            freed += entry.bytes
    return freed
