"""The shard-set check bound to content: ids in order and each row's id+text equal to the
corpus row it came from, in the corpus version the lineage names.

A shard set is first checked one shard at a time, so what the check holds beyond a few
8-byte-per-row numpy arrays (positions, fingerprints, id hashes) is one shard's worth,
whatever the corpus size: the exact invariants are computed per shard in numpy/Arrow and
GX validates their summary (one row per shard). When the summary is not clean -- a shard
with another row count, a differing id or fingerprint, a repeated id hash, shards that do
not tile the positions -- the set goes through one whole-set :func:`check_shards` (GX on
every row), whose report names every offending position and id: that is the verdict.
"""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from curation.corpus.digests import content_digests
from curation.corpus.read import assert_unchanged
from curation.machine import release_memory
from curation.quality.gx import Suite, expect, repeated, run_suites
from curation.quality.outcome import CheckOutcome, make_outcome
from curation.quality.shards import check_shards
from curation.refs import CorpusRef, OrderingRef, ShardRef, ShardSetRef
from curation.storage.hashing import RowHasher


def check_shard_set(
    corpus: CorpusRef,
    ordering: OrderingRef,
    shards: ShardSetRef,
    corpus_digests: np.ndarray | None = None,
) -> CheckOutcome:
    """``check_shards`` on a committed shard set, with content fingerprints.

    Raises :class:`curation.corpus.read.CorpusChanged` when the corpus bytes no longer give the
    version the ordering (and so the lineage) names. ``corpus_digests`` (from
    :func:`curation.corpus.digests.content_digests`) may be passed to share one corpus read
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
    """The passing outcome from per-shard invariants; None when anything is off.

    Per shard, exactly and in numpy/Arrow: its row count against the declared one, the
    positions whose id differs from the expected id, and those whose fingerprint differs
    from the corpus row's; across shards, ids whose 64-bit hash repeats. GX validates that
    summary (one row per shard), so a 10^7-row set costs one small validation, not one per
    10^6 rows.
    """
    n = len(expected_ids)
    if not _tiles(shards.shards, n):
        return None
    hasher, id_hashes = RowHasher(), np.empty(n, dtype=np.uint64)
    summary = {k: np.zeros(len(shards.shards), np.int64) for k in _SUMMARY}
    for k, shard in enumerate(shards.shards):
        lo, hi = shard.first_position, shard.first_position + shard.rows
        ids = shard.read_ids(corpus.id_column).combine_chunks()
        digests = content_digests(shard.path, corpus.id_column, corpus.text_column)
        summary["declared_rows"][k], summary["actual_rows"][k] = shard.rows, len(ids)
        if len(ids) != shard.rows or len(digests) != shard.rows:
            return None
        same = pc.fill_null(pc.equal(ids, expected_ids.slice(lo, shard.rows)), False)
        summary["differing_ids"][k] = shard.rows - pc.sum(same).as_py() if shard.rows else 0
        summary["differing_content"][k] = np.count_nonzero(digests != corpus_digests[rows[lo:hi]])
        id_hashes[lo:hi] = hasher(ids, ids)
    starts = np.array([s.first_position for s in shards.shards], dtype=np.int64)
    flags = repeated(id_hashes).astype(np.int64)  # per shard: its rows whose id hash repeats
    summary["repeated_ids"][:] = np.add.reduceat(flags, np.minimum(starts, n - 1)) if n else 0
    summary["repeated_ids"][np.diff(np.append(starts, n)) == 0] = 0  # reduceat on empty shards
    del id_hashes, flags
    if any(summary[k].any() for k in _SUMMARY[2:]):
        return None  # the whole-set check names every offending position and id
    results = run_suites([_summary_suite(summary, shards)])
    lengths = [s.rows for s in shards.shards]
    metadata = {
        "expected_rows": n,
        "shard_rows": int(summary["actual_rows"].sum()),
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
        "checked": "per shard: exact invariants in numpy, GX on their summary",
    }
    ok = (
        f"Shards OK: {len(lengths)} shard(s) hold the {n} expected ids in order, "
        "with the declared row counts."
    )
    outcome = make_outcome("shards", results, ok, ["shard", "path"], metadata)
    return outcome if outcome.passed else None


_SUMMARY = ("declared_rows", "actual_rows", "differing_ids", "differing_content", "repeated_ids")


def _summary_suite(summary: dict[str, np.ndarray], shards: ShardSetRef) -> Suite:
    """GX on the per-shard summary: counts as declared, nothing differing or repeated."""
    zero = {"min_value": 0, "max_value": 0}
    expectations = [
        expect(
            "ExpectColumnPairValuesToBeEqual",
            "shard row counts differ from declared",
            column_A="actual_rows",
            column_B="declared_rows",
        ),
        expect(
            "ExpectColumnValuesToBeBetween",
            "shard ids differ from the expected ids",
            column="differing_ids",
            **zero,
        ),
        expect(
            "ExpectColumnValuesToBeBetween",
            "shard content differs from the corpus rows",
            column="differing_content",
            **zero,
        ),
        expect(
            "ExpectColumnValuesToBeBetween",
            "ids repeated in the shards",
            column="repeated_ids",
            **zero,
        ),
    ]
    paths = [s.path for s in shards.shards]

    def report(rows: np.ndarray) -> dict[str, list]:
        return {"shard": rows.tolist(), "path": [paths[r] for r in rows.tolist()]}

    return Suite("shard_summary", pd.DataFrame(summary), expectations, report)


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
