"""Content version of a score table.

The table is sorted by id before hashing, so the same scores give the same version however
the source file orders its rows; column order does not matter either. Column names, types
and values (NaN and nulls included) all count.
"""

import hashlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: rows taken (in id order) and hashed at a time: the table is never copied whole
CHUNK_ROWS = 1 << 16


def _canonical(values: pa.Array) -> tuple[np.ndarray, np.ndarray | None, pa.Buffer | None]:
    """(null mask, per-row lengths or float values, string bytes) of a chunk of a column."""
    nulls = np.asarray(values.is_null().to_numpy(zero_copy_only=False), np.uint8)
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        filled = values.fill_null("").cast(pa.large_string())
        offsets = np.frombuffer(filled.buffers()[1], np.int64)[
            filled.offset : filled.offset + len(filled) + 1
        ]
        data = filled.buffers()[2]
        start, end = (int(offsets[0]), int(offsets[-1])) if len(filled) else (0, 0)
        body = data.slice(start, end - start) if data is not None else None
        return nulls, np.diff(offsets), body
    filled = values.cast(pa.float64()).fill_null(0.0).to_numpy(zero_copy_only=False)
    return nulls, np.where(np.isnan(filled), np.nan, filled), None  # one canonical NaN


def _column_digest(digest, column: pa.ChunkedArray, order: pa.Array) -> None:
    """Feed one column's canonical bytes in id order: null mask, then values (lengths and
    data for strings), each part prefixed by its length, as if hashed whole."""
    chunks = [order.slice(i, CHUNK_ROWS) for i in range(0, len(order), CHUNK_ROWS)]
    is_string = pa.types.is_string(column.type) or pa.types.is_large_string(column.type)
    digest.update(len(order).to_bytes(8, "little"))  # the null mask: a byte a row
    for chunk in chunks:
        digest.update(_canonical(column.take(chunk).combine_chunks())[0].tobytes())
    digest.update((8 * len(order)).to_bytes(8, "little"))  # lengths or float64 values
    total = 0
    for chunk in chunks:
        _, values, body = _canonical(column.take(chunk).combine_chunks())
        digest.update(np.ascontiguousarray(values).tobytes())
        total += body.size if body is not None else 0
    if not is_string:
        return
    digest.update(total.to_bytes(8, "little"))
    for chunk in chunks:
        body = _canonical(column.take(chunk).combine_chunks())[2]
        if body is not None:
            digest.update(body)


def score_version(table: pa.Table) -> str:
    """16 hex characters of sha256 over the id-sorted table (columns in name order), taken
    a chunk of rows at a time: sorting the whole table held a second copy of it."""
    if "id" in table.column_names:
        order = pc.sort_indices(table.column("id"))
    else:
        order = pa.array(np.arange(table.num_rows, dtype=np.int64))
    digest = hashlib.sha256()
    for name in sorted(table.column_names):
        column = table.column(name)
        digest.update(f"{name}\0{column.type}\0".encode())
        _column_digest(digest, column, order)
    return digest.hexdigest()[:16]
