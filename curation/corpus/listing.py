"""What a corpus URI names: a file, a directory, a glob, or a Hugging Face ``save_to_disk``
directory (local or ``s3://``), as data files in their global order, all of one format.

The global row order is files in this order, rows in file order. Directories are listed
one level deep (as before); a glob (``data/*.jsonl.zst``, ``s3://b/dolma/**/*.json.gz``)
matches paths below its fixed prefix, ``*`` within one path segment, ``**`` across
segments. A ``save_to_disk`` directory is recognised by its ``state.json`` and read in the
order that file lists. Mixed formats in one corpus are refused, naming a file of each.
"""

import fnmatch
import json
import posixpath
import re
from dataclasses import dataclass

import pyarrow.fs as pafs

from curation.corpus.read import MAX_LISTED, CorpusError, format_of, list_corpus_files
from curation.storage import Location, require_bucket, resolve

PARQUET, JSONL, CSV = "parquet", "jsonl", "csv"  # as curation.corpus.read.format_of names them
ARROW = "arrow"  # Hugging Face datasets' save_to_disk (Arrow IPC streams)
_GLOB = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class CorpusSources:
    """A corpus's data files in global order, their one format, and the directory their
    names are taken relative to (so moving a corpus keeps its content key)."""

    uri: str
    format: str
    files: tuple[Location, ...]
    base: str

    @property
    def needs_staging(self) -> bool:
        """Reordering reads parquet row groups at random; every other format is staged."""
        return self.format != PARQUET

    def names(self) -> list[str]:
        return [posixpath.relpath(f.path, self.base) for f in self.files]


def _glob(uri: str) -> tuple[Location, list[Location]]:
    """(the glob's fixed directory, the files below it that match, in path order)."""
    scheme = "s3://" if uri.startswith("s3://") else ""
    parts = uri[len(scheme) :].split("/")
    fixed = next(i for i, p in enumerate(parts) if _GLOB.search(p))
    base = resolve(scheme + "/".join(parts[:fixed]) if fixed else ".")
    pattern = parts[fixed:]
    recursive = len(pattern) > 1
    try:
        infos = base.fs.get_file_info(pafs.FileSelector(base.path, recursive=recursive))
    except FileNotFoundError as exc:
        require_bucket(base)
        raise CorpusError(f"corpus not found: nothing under {base.uri} ({exc})") from None
    found = []
    for info in infos:
        if info.type != pafs.FileType.File:
            continue
        rel = posixpath.relpath(info.path, base.path).split("/")
        if not any(p.startswith((".", "_")) for p in rel) and _match(rel, pattern):
            found.append(base.join(*rel))
    if not found:
        raise CorpusError(f"no corpus files match {uri}")
    return base, sorted(found, key=lambda loc: loc.path)


def _match(parts: list[str], pattern: list[str]) -> bool:
    """Segment-wise glob match; ``**`` matches any number of segments."""
    if not pattern:
        return not parts
    if pattern[0] == "**":
        return any(_match(parts[i:], pattern[1:]) for i in range(len(parts) + 1))
    return (
        bool(parts) and fnmatch.fnmatchcase(parts[0], pattern[0]) and _match(parts[1:], pattern[1:])
    )


def _saved_dataset(loc: Location) -> list[Location] | None:
    """The Arrow files of a ``datasets.Dataset.save_to_disk`` directory in its own order;
    None when ``loc`` is not one. A ``DatasetDict`` (splits) is refused naming them."""
    if loc.is_s3 and not loc.path.strip("/"):
        return None
    info = loc.fs.get_file_info([loc.join("state.json").path, loc.join("dataset_dict.json").path])
    if info[1].type == pafs.FileType.File:
        with loc.fs.open_input_stream(loc.join("dataset_dict.json").path) as f:
            splits = json.loads(f.read()).get("splits", [])
        raise CorpusError(
            f"{loc.uri} is a DatasetDict saved with save_to_disk (splits {splits}); point the "
            f"corpus at one split, e.g. {loc.join(str(splits[0]) if splits else 'train').uri}"
        )
    if info[0].type != pafs.FileType.File:
        return None
    with loc.fs.open_input_stream(loc.join("state.json").path) as f:
        try:
            state = json.loads(f.read())
            names = [entry["filename"] for entry in state["_data_files"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise CorpusError(
                f"{loc.join('state.json').uri} is not a datasets state file: {exc}"
            ) from None
    files = [loc.join(posixpath.basename(n)) for n in names]
    missing = [f.uri for f in files if f.fs.get_file_info(f.path).type != pafs.FileType.File]
    if missing:
        raise CorpusError(f"{loc.uri}: files listed in state.json are missing: {missing[:10]}")
    return files


def corpus_sources(uri: str) -> CorpusSources:
    """List a corpus and classify it; refuse empty corpora, unknown and mixed formats."""
    uri = uri.rstrip("/")
    if _GLOB.search(uri):
        base, files = _glob(uri)
        unknown = [f.uri for f in files if format_of(f.path) is None]
        if unknown:
            raise CorpusError(f"{uri} matches files of no known format: {unknown[:MAX_LISTED]}")
        base_path = base.path
    else:
        loc = resolve(uri)
        saved = None if format_of(loc.path) else _saved_dataset(loc)
        if saved is not None:
            return CorpusSources(loc.uri, ARROW, tuple(saved), loc.path)
        files = list_corpus_files(uri)
        single = len(files) == 1 and files[0].path == loc.path
        base_path = posixpath.dirname(loc.path) if single else loc.path
    by_format: dict[str, list[str]] = {}
    for f in files:
        by_format.setdefault(format_of(f.path), []).append(posixpath.basename(f.path))
    if len(by_format) > 1:
        shown = "; ".join(f"{fmt}: {', '.join(names[:3])}" for fmt, names in by_format.items())
        raise CorpusError(
            f"corpus {uri} mixes formats ({shown}); one corpus must be one format: "
            "move the others out or point corpus.uri at a glob of one kind"
        )
    return CorpusSources(uri, next(iter(by_format)), tuple(files), base_path)
