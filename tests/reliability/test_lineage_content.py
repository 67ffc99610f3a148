"""Issue 15, class 1: lineage bound to content. A corpus replaced between the ordering and
the shard step is caught: by the run (the version no longer matches) and by the shard check
(the shards' text differs from the corpus rows the version was computed from)."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.corpus import CorpusChanged, assert_unchanged, corpus_version
from curation.digests import content_digests
from curation.ordering import order
from curation.quality import check_shards
from curation.shards import write_ordered_shards


def _write(path, texts):
    ids = [f"d{i:03d}" for i in range(len(texts))]
    pq.write_table(pa.table({"id": ids, "text": texts}), path, row_group_size=16)


def test_a_corpus_replaced_mid_run_is_caught(tmp_path):
    corpus = tmp_path / "c.parquet"
    _write(corpus, [f"original text {i}" for i in range(60)])
    version = corpus_version(str(corpus))  # the corpus step: version and content together
    digests = content_digests(str(corpus))
    rows = np.asarray(order(np.random.default_rng(0).random(60), "sorted"))

    _write(corpus, [f"replaced text {i}" for i in range(60)])  # same ids, other texts
    with pytest.raises(CorpusChanged, match="changed during the run"):
        assert_unchanged(str(corpus), version)

    shards = write_ordered_shards(
        str(corpus), rows, str(tmp_path / "out"), rows_per_shard=25, progress=False
    )
    shard_ids = [pq.read_table(s.path, columns=["id"]).column(0) for s in shards]
    expected_ids = pa.array([f"d{i:03d}" for i in rows])
    assert check_shards(expected_ids, shard_ids).passed  # ids alone cannot see it

    shard_digests = np.concatenate([content_digests(s.path) for s in shards])
    outcome = check_shards(
        expected_ids, shard_ids, expected_digests=digests[rows], shard_digests=shard_digests
    )
    assert not outcome.passed
    assert outcome.metadata["failed_expectations"] == ["shard content differs from the corpus rows"]
    assert outcome.metadata["content_differs"] == 60


def test_content_check_passes_on_an_unchanged_corpus(tmp_path):
    corpus = tmp_path / "c.parquet"
    _write(corpus, [f"text {i}" * (i % 5 + 1) for i in range(50)])
    digests = content_digests(str(corpus))
    rows = np.random.default_rng(1).permutation(50)
    shards = write_ordered_shards(
        str(corpus), rows, str(tmp_path / "o"), rows_per_shard=20, progress=False
    )
    got = np.concatenate([content_digests(s.path) for s in shards])
    ids = [pq.read_table(s.path, columns=["id"]).column(0) for s in shards]
    expected_ids = pa.array([f"d{i:03d}" for i in rows])
    outcome = check_shards(expected_ids, ids, expected_digests=digests[rows], shard_digests=got)
    assert outcome.passed, outcome.description
    assert len(np.unique(digests)) == 50  # distinct documents, distinct fingerprints
