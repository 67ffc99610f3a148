"""One way to reach files: local paths and ``s3://`` URIs through ``pyarrow.fs``.

Every reader and writer in the library goes through :func:`resolve`, so switching a
pipeline from local disk to S3 is a configuration change, never a code change.
S3 credentials come only from the environment (``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``); ``AWS_ENDPOINT_URL`` points at an
S3-compatible server (MinIO, moto) and ``AWS_REGION`` picks the region.
"""

import json
import os
import posixpath
from dataclasses import dataclass
from pathlib import Path

import pyarrow.fs as pafs


@dataclass(frozen=True)
class Location:
    """A filesystem plus a path on it (no scheme)."""

    fs: pafs.FileSystem
    path: str
    uri: str

    @property
    def is_s3(self) -> bool:
        return self.uri.startswith("s3://")

    def join(self, *parts: str) -> "Location":
        path = posixpath.join(self.path, *parts)
        uri = f"s3://{path}" if self.is_s3 else path
        return Location(self.fs, path, uri)


def s3_filesystem(endpoint_url: str | None = None, region: str | None = None) -> pafs.S3FileSystem:
    """An S3 filesystem configured from the environment (never from code or files)."""
    endpoint = (
        endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL_S3")
    )
    kwargs: dict = {"region": region or os.environ.get("AWS_REGION", "us-east-1")}
    if endpoint:
        scheme, _, host = endpoint.partition("://")
        kwargs["endpoint_override"] = host or scheme
        kwargs["scheme"] = scheme if host else "https"
    return pafs.S3FileSystem(**kwargs)


def resolve(uri: str | os.PathLike) -> Location:
    """Map a local path or ``s3://bucket/key`` URI to a :class:`Location`."""
    text = os.fspath(uri)
    if text.startswith("s3://"):
        return Location(s3_filesystem(), text[len("s3://") :].rstrip("/"), text.rstrip("/"))
    if "://" in text:
        raise ValueError(f"unsupported URI scheme in {text!r}; use a local path or s3://")
    path = str(Path(text).expanduser().resolve())
    return Location(pafs.LocalFileSystem(), path, path)


def exists(loc: Location) -> bool:
    """True when a file or directory exists at ``loc``."""
    return loc.fs.get_file_info(loc.path).type != pafs.FileType.NotFound


def read_bytes(loc: Location) -> bytes:
    with loc.fs.open_input_stream(loc.path) as f:
        return f.read()


def write_bytes(loc: Location, data: bytes) -> None:
    """Write a whole object. On S3 a PUT is atomic; locally, callers that need
    atomicity write to a temporary name and :func:`rename`."""
    parent = posixpath.dirname(loc.path)
    if parent and not loc.is_s3:
        loc.fs.create_dir(parent, recursive=True)
    with loc.fs.open_output_stream(loc.path) as f:
        f.write(data)


def list_files(loc: Location, suffix: str = "") -> list[Location]:
    """Files directly under a directory (or the file itself), sorted by name."""
    info = loc.fs.get_file_info(loc.path)
    if info.type == pafs.FileType.File:
        return [loc]
    if info.type == pafs.FileType.NotFound:
        require_bucket(loc)
        raise FileNotFoundError(f"no such file or directory: {loc.uri}")
    selector = pafs.FileSelector(loc.path, recursive=False)
    names = sorted(
        posixpath.basename(i.path)
        for i in loc.fs.get_file_info(selector)
        if i.type == pafs.FileType.File and i.path.endswith(suffix)
    )
    return [loc.join(n) for n in names]


def require_bucket(loc: Location) -> None:
    """On S3, raise FileNotFoundError naming the bucket when it does not exist (a missing
    bucket otherwise looks like a missing file, or like an empty listing)."""
    if not loc.is_s3:
        return
    bucket = loc.path.split("/", 1)[0]
    if loc.fs.get_file_info(bucket).type == pafs.FileType.NotFound:
        endpoint = os.environ.get("AWS_ENDPOINT_URL") or "AWS"
        raise FileNotFoundError(
            f"S3 bucket {bucket!r} does not exist (endpoint {endpoint}); create it or fix {loc.uri}"
        )


def tmp_sibling(loc: Location) -> Location:
    """A hidden, unique name next to ``loc`` for write-then-rename."""
    import uuid

    parent, name = posixpath.split(loc.path)
    path = posixpath.join(parent, f".{name}.{uuid.uuid4().hex}.tmp")
    return Location(loc.fs, path, f"s3://{path}" if loc.is_s3 else path)


def atomic_write(loc: Location, data: bytes) -> None:
    """Replace a file so readers see the old or the new content, never a mix.

    Locally: temporary sibling + rename. On S3 a single PUT is already atomic.
    """
    if loc.is_s3:
        write_bytes(loc, data)
        return
    tmp = tmp_sibling(loc)
    write_bytes(tmp, data)
    loc.fs.move(tmp.path, loc.path)


def create_once(loc: Location, data: bytes) -> bool:
    """Create ``loc`` only if absent; False if another writer got there first.

    Locally ``os.link`` of a complete temp file is an atomic create-if-absent. S3 (through
    pyarrow) has no conditional PUT: an existing object wins, and two writers racing past
    that check both write; every caller writes content-addressed bytes, so they are equal.
    """
    if loc.is_s3:
        if exists(loc):
            return False
        write_bytes(loc, data)
        return True
    tmp = tmp_sibling(loc)
    write_bytes(tmp, data)
    try:
        os.link(tmp.path, loc.path)
        return True
    except FileExistsError:
        return False
    finally:
        os.unlink(tmp.path)


WORK_ROW_GROUP_ROWS = 1 << 16


def write_parquet_atomic(table, loc: Location, **kwargs) -> None:
    """Write a parquet file that is either absent or complete under its final name.

    Write a hidden sibling, then rename. (On S3 pyarrow completes a multipart upload even
    when the writer fails mid-way, so the temporary key matters there too.) Row groups are
    :data:`WORK_ROW_GROUP_ROWS` rows unless told otherwise: a reader decodes a whole row
    group, so pyarrow's default (2^20 rows) made a streamed read of a 10^6-row work table
    hold all of it.
    """
    import pyarrow.parquet as pq

    kwargs.setdefault("row_group_size", WORK_ROW_GROUP_ROWS)
    if not loc.is_s3:
        loc.fs.create_dir(posixpath.dirname(loc.path), recursive=True)
    tmp = tmp_sibling(loc)
    pq.write_table(table, tmp.path, filesystem=loc.fs, **kwargs)
    loc.fs.move(tmp.path, loc.path)


def write_batches_atomic(batches, schema, loc: Location, **kwargs) -> None:
    """:func:`write_parquet_atomic` for a table that arrives in record batches (each one
    row group), so it is never whole in memory."""
    import pyarrow.parquet as pq

    if not loc.is_s3:
        loc.fs.create_dir(posixpath.dirname(loc.path), recursive=True)
    tmp = tmp_sibling(loc)
    with pq.ParquetWriter(tmp.path, schema, filesystem=loc.fs, **kwargs) as writer:
        for batch in batches:
            writer.write_batch(batch)
    loc.fs.move(tmp.path, loc.path)


class DamagedFile(ValueError):
    """A small JSON file (marker, pointer, manifest, cache index) that is empty, cut short,
    not strict JSON, or not the shape its reader expects. The message names the file."""


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not strict JSON")


def to_strict_json(obj: object, **kwargs) -> bytes:
    """JSON bytes with no NaN/Infinity (they are not JSON; a caller must name them instead)."""
    return (json.dumps(obj, allow_nan=False, **kwargs) + "\n").encode()


def read_json(loc: Location, expect: type | None = dict) -> object:
    """Parse a strict-JSON file; DamagedFile (naming it) if empty, cut short, non-strict
    (NaN/Infinity) or, with ``expect``, not of that type. Missing files raise OSError."""
    data = read_bytes(loc)
    try:
        value = json.loads(data, parse_constant=_no_constant)
    except ValueError as exc:
        state = "empty" if not data.strip() else f"not valid JSON ({exc})"
        raise DamagedFile(f"{loc.uri} is {state}") from None
    if expect is not None and not isinstance(value, expect):
        raise DamagedFile(
            f"{loc.uri} holds a JSON {type(value).__name__}, expected {expect.__name__}"
        )
    return value


def write_json_atomic(loc: Location, obj: object, **kwargs) -> None:
    """Strict JSON, temp-then-rename: readers see the old file or the new one, never a part."""
    atomic_write(loc, to_strict_json(obj, **kwargs))


def under(root: str | os.PathLike, *parts: str) -> Location:
    """A location under ``root`` built from validated segments, so names that come from the
    environment, a run config or a command line can never point outside it. Call it before
    writing anything: a refused name leaves nothing behind."""
    from curation.storage.names import validate_segment

    return resolve(root).join(*(validate_segment(p) for p in parts))
