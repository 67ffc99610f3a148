"""The shard-set check bound to content: ids in order and each row's id+text equal to the
corpus row it came from, in the corpus version the lineage names."""

import numpy as np

from curation.corpus import assert_unchanged
from curation.digests import content_digests
from curation.quality.outcome import CheckOutcome
from curation.quality.shards import check_shards
from curation.refs import CorpusRef, OrderingRef, ShardSetRef


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
    parts = [content_digests(s.path, corpus.id_column, corpus.text_column) for s in shards.shards]
    actual = np.concatenate(parts) if parts else np.zeros(0, np.uint64)
    return check_shards(
        ordering.read_ids(),
        shards.read_ids(),
        shard_row_counts=[s.rows for s in shards.shards],
        expected_digests=corpus_digests[ordering.read_rows()],
        shard_digests=actual,
    )
