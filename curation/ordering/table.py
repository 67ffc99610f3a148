"""The ordering table (``position, id, row``) and its content address; one writer for all."""

import hashlib
import json
from collections.abc import Iterator

import numpy as np
import pyarrow as pa

import curation
from curation.storage import Location
from curation.storage.files import WORK_ROW_GROUP_ROWS, write_batches_atomic


def ordering_batches(ids: pa.Array | pa.ChunkedArray, rows: np.ndarray) -> Iterator[pa.RecordBatch]:
    """``position -> id`` plus the corpus row each position reads (every corpus row, or
    only those a selection kept), a row group at a time: the table is never whole."""
    rows = np.asarray(rows, dtype=np.int64)
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()  # a take over chunks returns chunks; a batch needs one array
    for start in range(0, rows.size, WORK_ROW_GROUP_ROWS):
        part = rows[start : start + WORK_ROW_GROUP_ROWS]
        yield pa.record_batch(
            {
                "position": pa.array(np.arange(start, start + part.size, dtype=np.int64)),
                "id": ids.take(pa.array(part)),
                "row": pa.array(part),
            }
        )


def write_ordering_table(loc: Location, ids: pa.Array | pa.ChunkedArray, rows: np.ndarray) -> None:
    schema = pa.schema([("position", pa.int64()), ("id", ids.type), ("row", pa.int64())])
    write_batches_atomic(ordering_batches(ids, rows), schema, loc)


def ordering_key(
    corpus_version: str,
    score_version: str,
    method: str,
    params: dict,
    selection: dict | None = None,
) -> str:
    """Content address of an ordering: same inputs and code, same key, same file. A
    selection (its rule, value and score column) is bound only when there is one, so an
    ordering without selection keeps the key it always had."""
    what: list = [curation.__version__, corpus_version, score_version, method, params]
    if selection:
        what.append(selection)
    text = json.dumps(what, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
