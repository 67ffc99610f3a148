"""The ordering table (``position, id, row``) and its content address; one writer for all."""

import hashlib
import json

import numpy as np
import pyarrow as pa

import curation
from curation.storage import Location, write_parquet_atomic


def ordering_table(ids: pa.Array | pa.ChunkedArray, rows: np.ndarray) -> pa.Table:
    """``position -> id`` plus the corpus row each position reads (every corpus row, or
    only those a selection kept)."""
    rows = np.asarray(rows, dtype=np.int64)
    return pa.table(
        {
            "position": pa.array(np.arange(rows.size, dtype=np.int64)),
            "id": ids.take(pa.array(rows)),
            "row": pa.array(rows),
        }
    )


def write_ordering_table(loc: Location, ids: pa.Array | pa.ChunkedArray, rows: np.ndarray) -> None:
    write_parquet_atomic(ordering_table(ids, rows), loc)


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
