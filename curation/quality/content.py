"""The shard-set check bound to content: ids in order and each row's id+text equal to the
corpus row it came from, in the corpus version the lineage names.

A shard set is compared with its ordering one batch at a time
(:func:`curation.quality.shard_stream.compare_shards`), so the check holds a batch of each
plus 9 bytes per corpus row, whatever the ids' length, the shard count or the number of
recipes; the exact invariants are counted per shard in numpy/Arrow and GX validates their
summary (one row per shard). A failing set of up to :data:`WHOLE_SET_ROWS` rows goes
through one whole-set :func:`check_shards` (GX on every row), whose report counts and names
every offending position and id; a larger one is reported from the per-shard counts and
its first offenders, so a failure costs no more memory than a pass.
"""

import numpy as np
import pandas as pd

from curation.corpus.digests import content_digests
from curation.corpus.read import assert_unchanged
from curation.machine import release_memory
from curation.quality.gx import Suite, expect, run_suites
from curation.quality.outcome import CheckOutcome, make_outcome
from curation.quality.shard_stream import Comparison, compare_shards
from curation.quality.shards import check_shards
from curation.refs import CorpusRef, OrderingRef, ShardRef, ShardSetRef

#: a failing set this small gets GX's row-by-row report (~1 KB a row while it runs)
WHOLE_SET_ROWS = 200_000


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
    found = compare_shards(shards, ordering, corpus_digests, corpus.id_column, corpus.text_column)
    n = ordering.rows
    tiled = _tiles(shards.shards, n)
    if found.clean and tiled:
        outcome = _summarised(found, shards, n)
    elif n <= WHOLE_SET_ROWS:
        outcome = _whole_set(corpus, shards, ordering, corpus_digests)
    else:
        outcome = _summarised(found, shards, n, tiled)
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


def _summarised(found: Comparison, shards: ShardSetRef, n: int, tiled: bool = True) -> CheckOutcome:
    """The verdict from the per-shard counts: GX validates the summary (one row per shard),
    so a 10^7-row set costs one small validation, not one per 10^6 rows."""
    results = run_suites([_summary_suite(found.summary, shards)])
    lengths = [s.rows for s in shards.shards]
    summary = found.summary
    wrong = np.flatnonzero(summary["actual_rows"] != summary["declared_rows"])
    offenders = found.offenders
    metadata = {
        "expected_rows": n,
        "shard_rows": int(summary["actual_rows"].sum()),
        "shards": len(lengths),
        "shard_lengths": lengths[:1000],
        "shards_with_wrong_counts": [
            {
                "shard": int(i),
                "declared": int(summary["declared_rows"][i]),
                "actual": int(summary["actual_rows"][i]),
            }
            for i in wrong[:10]
        ],
        "missing_rows": found.missing_rows,
        "extra_rows": found.extra_rows,
        "differing_positions": int(summary["differing_ids"].sum()),
        "repeated_rows": int(summary["repeated_ids"].sum()),
        "content_differs": int(summary["differing_content"].sum()),
        "offending_positions": [o["position"] for o in offenders],
        "offending_ids": list(
            dict.fromkeys(
                v for o in offenders for v in (o["expected_id"], o["actual_id"]) if v is not None
            )
        )[:10],
        "checked": "per shard: exact invariants in numpy, GX on their summary",
    }
    problems = []
    if found.missing_rows or found.extra_rows:
        problems.append(
            f"{found.missing_rows} expected row(s) missing past the end of the shards, "
            f"{found.extra_rows} extra row(s) past the expected ids"
        )
    if not tiled:
        problems.append("the declared shards do not tile the positions 0..n-1")
    if offenders:
        problems.append(
            "first offending positions: "
            + "; ".join(
                f"position={o['position']} shard={o['shard']} expected_id={o['expected_id']!r} "
                f"actual_id={o['actual_id']!r}"
                for o in offenders[:5]
            )
        )
    if problems and all(r["success"] for r in results):
        results.append({"label": "shards tile the ordering's positions", "success": False})
    ok = (
        f"Shards OK: {len(lengths)} shard(s) hold the {n} expected ids in order, "
        "with the declared row counts."
    )
    note = ". ".join(problems) + ("." if problems else "")
    return make_outcome("shards", results, ok, ["shard", "path"], metadata, note)


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
    corpus: CorpusRef, shards: ShardSetRef, ordering: OrderingRef, corpus_digests: np.ndarray
) -> CheckOutcome:
    """One :func:`check_shards` over every shard at once: the complete failure report."""
    parts = [content_digests(s.path, corpus.id_column, corpus.text_column) for s in shards.shards]
    actual = np.concatenate(parts) if parts else np.zeros(0, np.uint64)
    return check_shards(
        ordering.read_ids(),
        shards.read_ids(),
        shard_row_counts=[s.rows for s in shards.shards],
        expected_digests=corpus_digests[ordering.read_rows()],
        shard_digests=actual,
    )
