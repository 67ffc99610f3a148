"""Text batches as Arrow arrays and raw UTF-8 buffers, shared by the built-in scorers.

Scorers accept a list of str or an Arrow string array; reaching the underlying offsets and
bytes lets length and n-gram scoring run on numpy views without a per-document loop.
"""

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

TextBatch = Sequence[str] | pa.Array | pa.ChunkedArray


def as_text_array(texts: TextBatch) -> pa.Array:
    """One contiguous large_string array; nulls become empty strings."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks() if texts.num_chunks != 1 else texts.chunk(0)
    if not isinstance(texts, pa.Array):
        texts = pa.array(texts, type=pa.large_string())
    if not (pa.types.is_string(texts.type) or pa.types.is_large_string(texts.type)):
        raise TypeError(f"texts must be strings, got Arrow type {texts.type}")
    return texts.fill_null("").cast(pa.large_string())


def utf8_buffers(texts: TextBatch) -> tuple[np.ndarray, np.ndarray]:
    """(offsets starting at 0, n + 1 int64; bytes as uint8) of the concatenated documents."""
    array = as_text_array(texts)
    offsets = np.frombuffer(array.buffers()[1], np.int64)[
        array.offset : array.offset + len(array) + 1
    ]
    data_buffer = array.buffers()[2]
    if len(array) == 0 or data_buffer is None:
        return np.zeros(len(array) + 1, np.int64), np.zeros(0, np.uint8)
    data = np.frombuffer(data_buffer, np.uint8)[offsets[0] : offsets[-1]]
    return offsets - offsets[0], data
