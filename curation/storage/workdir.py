"""Work directories two runs can share: per-run scratch, content-addressed outputs, and
commit markers that are written once, atomically, as strict JSON.

Two runs on one root used to share a plan directory that the first to finish deleted while
the other still read it. The rule here: anything a run *reads back later* and deletes
(plans, spills) lives under ``<base>/.runs/<run id>``, private to that run; anything it
*produces* lives under a content address, is written temp-then-rename, and is marked
complete by :func:`commit_marker`, which creates the marker once (a second writer of the
same content finds it and agrees). A damaged marker (empty, cut short, not strict JSON:
what a crash between create and write leaves) is reported by :func:`read_marker` naming the
file and treated as absent, so the next run rebuilds it instead of failing forever.
"""

import os
import warnings

from curation import storage
from curation.storage import DamagedFile, Location
from curation.storage.names import validate_segment


def run_scratch(base: str, run_id: str) -> Location:
    """``<base>/.runs/<run_id>``: scratch space no other run reads or deletes."""
    return storage.resolve(base).join(".runs", validate_segment(run_id, "run id"))


def read_marker(loc: Location) -> object | None:
    """The committed marker's content; None when absent or damaged (damage is warned about,
    naming the file, and the damaged file is moved aside so a rerun can commit again)."""
    if not storage.exists(loc):
        return None
    try:
        return storage.read_json(loc, expect=None)
    except DamagedFile as exc:
        warnings.warn(f"ignoring a damaged commit marker: {exc}; rebuilding", RuntimeWarning, 2)
        set_aside(loc)
        return None


def set_aside(loc: Location) -> None:
    """Move a damaged marker out of the way (``.damaged`` beside it) so a rerun can commit."""
    if loc.is_s3:
        loc.fs.delete_file(loc.path)
    else:
        os.replace(loc.path, f"{loc.path}.damaged")


def commit_marker(loc: Location, content: object) -> object:
    """Create the marker once (strict JSON, atomic); return what is committed (ours, or an
    earlier writer's, which for content-addressed outputs is the same)."""
    data = storage.to_strict_json(content, indent=1)
    if storage.create_once(loc, data):
        return content
    existing = read_marker(loc)
    if existing is None:  # it was damaged and set aside: ours goes in its place
        storage.create_once(loc, data)
        return content
    return existing
