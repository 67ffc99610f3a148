"""The shard-set check bound to content: ids in order and each row's id+text equal to the
corpus row it came from, in the corpus version the lineage names.

A passing shard set (the production case) is checked one shard at a time, so what the
check holds beyond a few 8-byte-per-row numpy arrays is one shard's worth, whatever the
corpus size: each shard goes through the same :func:`check_shards` (GX) against its slice of
the expected ids and fingerprints. Uniqueness across shards follows from the per-shard
equality once the expected ids are unique, which is verified by sorting 64-bit hashes of
the shard ids. Anything else -- a shard that fails, shards that do not tile the positions,
a hash that repeats -- sends the set through one whole-set :func:`check_shards`, whose
report (every differing position, repeated id, wrong count) is the verdict.
"""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curation.corpus import assert_unchanged
from curation.digests import content_digests
from curation.hashing import RowHasher
from curation.machine import release_memory
from curation.quality.gx import repeated
from curation.quality.outcome import CheckOutcome, jsonable
from curation.quality.shards import check_shards
from curation.refs import CorpusRef, OrderingRef, ShardRef, ShardSetRef
from curation.storage import resolve


def check_shard_set(
    corpus: CorpusRef,
    ordering: OrderingRef,
    shards: ShardSetRef,
    corpus_digests: np.ndarray | None = None,
) -> CheckOutcome:
    """``check_shards`` on a committed shard set, with content fingerprints.

    Raises :class:`curation.corpus.CorpusChanged` when the corpus bytes no longer give the
    version the ordering (and so the lineage) names. ``corpus_digests`` (from
    :func:`curation.digests.content_digests`) may be passed to share one corpus read
    between several recipes.
    """
    assert_unchanged(corpus.uri, ordering.corpus_version)
    if corpus_digests is None:
        corpus_digests = content_digests(corpus.uri, corpus.id_column, corpus.text_column)
    rows = ordering.read_rows()
    expected_ids = ordering.read_ids()
    outcome = _shard_by_shard(corpus, shards, expected_ids, corpus_digests, rows)
    if outcome is None:
        outcome = _whole_set(corpus, shards, expected_ids, corpus_digests, rows)
    release_memory()
    return outcome


def _tiles(shards: tuple[ShardRef, ...], n: int) -> bool:
    """The declared shards cover positions 0..n-1 in order, without gaps or overlaps."""
    starts = np.array([s.first_position for s in shards], dtype=np.int64)
    counts = np.array([s.rows for s in shards], dtype=np.int64)
    return (
        bool(len(shards))
        and np.array_equal(starts, np.cumsum(counts) - counts)
        and (int(counts.sum()) == n)
    )


def _shard_by_shard(
    corpus: CorpusRef,
    shards: ShardSetRef,
    expected_ids: pa.ChunkedArray,
    corpus_digests: np.ndarray,
    rows: np.ndarray,
) -> CheckOutcome | None:
    """The passing outcome, checked one shard at a time; None when anything is off."""
    n = len(expected_ids)
    if not _tiles(shards.shards, n):
        return None
    hasher, id_hashes = RowHasher(), np.empty(n, dtype=np.uint64)
    results: list[dict] = []
    for shard in shards.shards:
        lo, hi = shard.first_position, shard.first_position + shard.rows
        ids = _read_ids(shard, corpus.id_column)
        outcome = check_shards(
            expected_ids.slice(lo, shard.rows),
            [ids],
            shard_row_counts=[shard.rows],
            expected_digests=corpus_digests[rows[lo:hi]],
            shard_digests=content_digests(shard.path, corpus.id_column, corpus.text_column),
        )
        if not outcome.passed:
            return None
        flat = ids.combine_chunks()
        id_hashes[lo:hi] = hasher(flat, flat)
        results = (
            outcome.results
            if not results
            else [_summed(a, b) for a, b in zip(results, outcome.results, strict=True)]
        )
    if repeated(id_hashes).any():  # equal ids, or a 64-bit collision: the exact check decides
        return None
    lengths = [s.rows for s in shards.shards]
    metadata = {
        "passed": True,
        "evaluated_expectations": len(results),
        "failed_expectations": [],
        "expected_rows": n,
        "shard_rows": n,
        "shards": len(lengths),
        "shard_lengths": lengths[:1000],
        "shards_with_wrong_counts": [],
        "missing_rows": 0,
        "extra_rows": 0,
        "differing_positions": 0,
        "repeated_rows": 0,
        "content_differs": 0,
        "offending_positions": [],
        "offending_ids": [],
        "checked": "shard by shard",
    }
    description = (
        f"Shards OK: {len(lengths)} shard(s) hold the {n} expected ids in order, "
        "with the declared row counts."
    )
    return CheckOutcome(True, "shards", description, jsonable(metadata), results)


def _summed(a: dict, b: dict) -> dict:
    """One passing expectation's result over two shards (element counts add up)."""
    row = dict(a)
    for key in ("element_count", "unexpected_count", "missing_count"):
        if key in a or key in b:
            row[key] = a.get(key, 0) + b.get(key, 0)
    return row


def _whole_set(
    corpus: CorpusRef,
    shards: ShardSetRef,
    expected_ids: pa.ChunkedArray,
    corpus_digests: np.ndarray,
    rows: np.ndarray,
) -> CheckOutcome:
    """One :func:`check_shards` over every shard at once: the complete failure report."""
    parts = [content_digests(s.path, corpus.id_column, corpus.text_column) for s in shards.shards]
    actual = np.concatenate(parts) if parts else np.zeros(0, np.uint64)
    return check_shards(
        expected_ids,
        shards.read_ids(),
        shard_row_counts=[s.rows for s in shards.shards],
        expected_digests=corpus_digests[rows],
        shard_digests=actual,
    )


def _read_ids(shard: ShardRef, id_column: str) -> pa.ChunkedArray:
    loc = resolve(shard.path)
    return pq.read_table(loc.path, filesystem=loc.fs, columns=[id_column]).column(id_column)
