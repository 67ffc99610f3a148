"""The ordering table (``position, id, row``) and its content address; one writer for all."""

import hashlib
import json

import numpy as np
import pyarrow as pa

import curation
from curation.storage import Location, write_parquet_atomic


def ordering_table(ids: pa.Array | pa.ChunkedArray, rows: np.ndarray) -> pa.Table:
    """``position -> id`` plus the corpus row each position reads."""
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


def ordering_key(corpus_version: str, score_version: str, method: str, params: dict) -> str:
    """Content address of an ordering: same inputs and code, same key, same file."""
    text = json.dumps(
        [curation.__version__, corpus_version, score_version, method, params], sort_keys=True
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]
