"""Cheap checks of files a run reuses instead of rebuilding (caches, ordering tables, shard
sets, published shards): what it costs does not grow with the data (a size, a file header,
a parquet footer), so a run can afford it on every reuse. A damaged file is named and
rebuilt; the full content hash stays with ``datasets verify``.
"""

import io
import warnings

import numpy as np
import pyarrow.parquet as pq

from curation.storage.files import Location, exists


def damaged(what: str, loc: Location, problem: str) -> None:
    """Warn, naming the file and the problem, that a reused file is rebuilt."""
    warnings.warn(f"{what} {loc.uri} is damaged ({problem}); rebuilding it", RuntimeWarning, 3)


def file_size(loc: Location) -> int | None:
    info = loc.fs.get_file_info(loc.path)
    return info.size if info.type.name == "File" else None


def npy_problem(loc: Location, length: int | None = None) -> str | None:
    """Why a ``.npy`` file is not a whole array (of ``length`` items), or None."""
    size = file_size(loc)
    if size is None:
        return "missing"
    with loc.fs.open_input_file(loc.path) as f:
        head = io.BytesIO(f.read(min(size, 4096)))
    try:
        major, _ = np.lib.format.read_magic(head)
        read_header = (
            np.lib.format.read_array_header_1_0
            if major == 1
            else np.lib.format.read_array_header_2_0
        )
        shape, _, dtype = read_header(head)
    except (ValueError, EOFError) as exc:
        return f"unreadable header: {exc}"
    count = int(np.prod(shape))
    expected = head.tell() + count * dtype.itemsize
    if size != expected:
        return f"{size} bytes, its header promises {expected}"
    if length is not None and count != length:
        return f"{count} values, expected {length}"
    return None


def parquet_problem(loc: Location, rows: int | None = None, size: int | None = None) -> str | None:
    """Why a parquet file is not whole (footer unreadable, wrong size or row count), or None."""
    actual = file_size(loc)
    if actual is None:
        return "missing"
    if size is not None and actual != size:
        return f"{actual} bytes, {size} recorded when it was written"
    try:
        with loc.fs.open_input_file(loc.path) as f:
            found = pq.ParquetFile(f).metadata.num_rows
    except Exception as exc:  # pyarrow raises several types for a broken footer
        return f"unreadable parquet footer: {exc}"
    if rows is not None and found != rows:
        return f"{found} rows, {rows} recorded when it was written"
    return None


def reusable(what: str, loc: Location, problem: str | None) -> bool:
    """True when ``loc`` exists and is whole; a damaged one is warned about (and rebuilt by
    the caller)."""
    if problem is None:
        return True
    if problem != "missing" or exists(loc):
        damaged(what, loc, problem)
    return False
