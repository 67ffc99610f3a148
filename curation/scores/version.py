"""Content version of a score table.

The table is sorted by id before hashing, so the same scores give the same version however
the source file orders its rows; column order does not matter either. Column names, types
and values (NaN and nulls included) all count.
"""

import hashlib

import numpy as np
import pyarrow as pa


def _column_bytes(values: pa.Array) -> list:
    """Canonical bytes of one column: null mask, then values (offsets + data for strings)."""
    values = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    parts = [np.asarray(values.is_null().to_numpy(zero_copy_only=False), np.uint8).tobytes()]
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        filled = values.fill_null("").cast(pa.large_string())
        offsets = np.frombuffer(filled.buffers()[1], np.int64)[
            filled.offset : filled.offset + len(filled) + 1
        ]
        parts.append(np.diff(offsets).tobytes())
        data = filled.buffers()[2]
        start, end = (int(offsets[0]), int(offsets[-1])) if len(filled) else (0, 0)
        parts.append(data.slice(start, end - start) if data is not None else b"")
    else:
        filled = values.cast(pa.float64()).fill_null(0.0).to_numpy(zero_copy_only=False)
        filled = np.where(np.isnan(filled), np.nan, filled)  # one canonical NaN
        parts.append(np.ascontiguousarray(filled).tobytes())
    return parts


def score_version(table: pa.Table) -> str:
    """16 hex characters of sha256 over the id-sorted table (columns in name order)."""
    ordered = table.sort_by("id") if "id" in table.column_names else table
    digest = hashlib.sha256()
    for name in sorted(ordered.column_names):
        column = ordered.column(name)
        digest.update(f"{name}\0{column.type}\0".encode())
        for part in _column_bytes(column):
            digest.update(len(part).to_bytes(8, "little"))
            digest.update(part)
    return digest.hexdigest()[:16]
