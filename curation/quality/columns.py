"""Id and value columns as numpy/Arrow arrays and shared integer codes (never Python objects).

GX fingerprints every batch with a pandas hash, which costs seconds on 10^6 Python strings,
so ids enter GX as integer codes from one Arrow hash pass; these helpers build the codes and
map flagged row numbers back to ids.
"""

from typing import Any

import numpy as np
import pyarrow as pa

from curation.quality.outcome import QualityInputError

IdArray = np.ndarray | pa.Array


def as_ids(values: Any, what: str) -> IdArray:
    """An id column as a 1-D numpy array or a (single-chunk) pyarrow Array, never copied
    to Python objects: 10^6 string ids stay in Arrow."""
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks()
    if isinstance(values, pa.Array):
        return values
    array = np.asarray(values)
    if array.ndim != 1:
        raise QualityInputError(f"{what} must be one-dimensional, got shape {array.shape}")
    return array


def to_numpy(values: Any, what: str) -> np.ndarray:
    """Any 1-D column as numpy (Arrow nulls become NaN/None)."""
    array = as_ids(values, what)
    return array.to_numpy(zero_copy_only=False) if isinstance(array, pa.Array) else array


def take(ids: IdArray, rows: np.ndarray) -> list[Any]:
    """``ids[rows]`` as Python values; rows outside ``ids`` (padding) give None."""
    inside = (rows >= 0) & (rows < len(ids))
    picked = np.asarray(rows)[inside]
    values = (
        ids.take(pa.array(picked)).to_pylist()
        if isinstance(ids, pa.Array)
        else ids[picked].tolist()
    )
    out: list[Any] = [None] * len(rows)
    for slot, value in zip(np.flatnonzero(inside), values, strict=True):
        out[slot] = value
    return out


def padded(values: np.ndarray, length: int, fill: Any) -> np.ndarray:
    """``values`` cut or padded with ``fill`` to ``length`` (sentinel rows fail equality)."""
    if len(values) >= length:
        return values[:length]
    return np.concatenate([values, np.full(length - len(values), fill, dtype=values.dtype)])
