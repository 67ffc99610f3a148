"""Scores in corpus row order, joined once per (scores, corpus) version and cached.

Every ordering, its check, its shards and the probes need the driving score aligned to the
corpus rows; the join is done once and kept beside the score table as ``.npy``.
"""

import hashlib
import io

import numpy as np
import pyarrow as pa

from curation.refs import CorpusRef, ScoresRef
from curation.scores.coverage import align_scores
from curation.storage import atomic_write, read_bytes, resolve
from curation.storage.intact import npy_problem, reusable


def aligned_scores(corpus: CorpusRef, scores: ScoresRef) -> tuple[pa.Array, np.ndarray]:
    """Corpus ids and the driving score at each corpus row (float64)."""
    return corpus.read_ids(), aligned_values(corpus, scores)


def aligned_values(corpus: CorpusRef, scores: ScoresRef, column: str | None = None) -> np.ndarray:
    """The driving score (or the raw score ``column``, e.g. the one a selection names) at
    each corpus row (float64); reads the ids only to join them."""
    column = column or scores.column
    suffix = (
        "" if column == scores.column else "-" + hashlib.sha256(column.encode()).hexdigest()[:12]
    )
    cache = resolve(scores.uri.rsplit("/", 1)[0]).join(f"aligned-{corpus.version}{suffix}.npy")
    if reusable("aligned score cache", cache, npy_problem(cache, corpus.rows)):
        return np.load(io.BytesIO(read_bytes(cache)), allow_pickle=False)
    values = align_scores(corpus.read_ids(), scores.read_table(column), column)
    buffer = io.BytesIO()
    np.save(buffer, values, allow_pickle=False)
    atomic_write(cache, buffer.getvalue())  # parallel steps may race to fill it: same bytes
    return values
