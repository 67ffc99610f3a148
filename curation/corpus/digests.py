"""Per-row content fingerprints of a corpus or shard files, on every core.

The shard check binds lineage to content by comparing the shards' fingerprints with those
of the corpus rows they should hold. At 10^7 documents that is every byte of the corpus and
of each recipe's shards, so batches are hashed on a thread pool (numpy releases the GIL)
while the main thread reads the next ones; at most two batches per thread are in flight, so
memory stays at a few batches whatever the corpus size.
"""

import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from curation.corpus.read import iter_batches
from curation.machine import available_cores, release_memory
from curation.storage.hashing import RowHasher

BATCH_ROWS = 8192  # ~2 MB of text: each thread's work arrays are ~70 MB


def content_digests(
    uri: str, id_column: str = "id", text_column: str = "text", workers: int | None = None
) -> np.ndarray:
    """One fingerprint per row (:class:`curation.storage.hashing.RowHasher`), in row order."""
    workers = workers or available_cores()
    local = threading.local()

    def digest(batch) -> np.ndarray:
        if not hasattr(local, "hasher"):
            local.hasher = RowHasher()  # one set of work arrays per thread
        return local.hasher(batch.column(0), batch.column(1))

    parts: list[np.ndarray] = []
    batches = iter_batches(uri, columns=[id_column, text_column], batch_size=BATCH_ROWS)
    with ThreadPoolExecutor(workers, thread_name_prefix="digest") as pool:
        pending: deque = deque()
        for batch in batches:
            pending.append(pool.submit(digest, batch))
            if len(pending) >= 2 * workers:
                parts.append(pending.popleft().result())
        parts += [f.result() for f in pending]
    release_memory()
    return np.concatenate(parts) if parts else np.zeros(0, np.uint64)
