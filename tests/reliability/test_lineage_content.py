"""lineage bound to content. A corpus replaced between the ordering and
the shard step is caught: by the run (the version no longer matches) and by the shard check
(the shards' text differs from the corpus rows the version was computed from)."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.corpus.digests import content_digests
from curation.corpus.read import CorpusChanged, assert_unchanged, corpus_version
from curation.ordering.engine import order
from curation.ordering.table import write_ordering_table
from curation.quality import check_shards, content
from curation.quality.content import check_shard_set
from curation.refs import CorpusRef, OrderingRef, ShardRef, ShardSetRef
from curation.shards import write_ordered_shards
from curation.storage import resolve


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


def _shard_set(tmp_path, n=90, rows_per_shard=25, seed=2):
    """A corpus, its ordering and its committed-style shard set, as the pipeline refs."""
    corpus = tmp_path / "c.parquet"
    _write(corpus, [f"text {i} " * (i % 7 + 1) for i in range(n)])
    ids = pq.read_table(corpus).column("id")
    rows = np.random.default_rng(seed).permutation(n)
    table = resolve(str(tmp_path / "ordering.parquet"))
    write_ordering_table(table, ids, rows)
    version = corpus_version(str(corpus))
    cref = CorpusRef(uri=str(corpus), version=version, rows=n, files=1, id_type="string")
    oref = OrderingRef(
        uri=table.uri, recipe="r", method="random", params={}, key="k", rows=n,
        corpus_version=version, score_version="s",
    )  # fmt: skip
    infos = write_ordered_shards(
        str(corpus), rows, str(tmp_path / "out"), rows_per_shard=rows_per_shard, progress=False
    )
    shards = tuple(
        ShardRef(path=i.path, rows=i.rows, first_position=i.first_position, sha256=i.sha256,
                 bytes=i.bytes)
        for i in infos
    )  # fmt: skip
    return (
        cref,
        oref,
        ShardSetRef(uri=str(tmp_path / "out"), recipe="r", shards=shards, ordering=oref),
    )


def test_a_sound_shard_set_is_checked_shard_by_shard(tmp_path):
    cref, oref, sref = _shard_set(tmp_path)
    outcome = check_shard_set(cref, oref, sref)
    assert outcome.passed, outcome.description
    assert outcome.metadata["checked"].startswith("per shard")
    assert outcome.metadata["shard_lengths"] == [25, 25, 25, 15]
    assert {r["element_count"] for r in outcome.results} == {4}  # GX on one summary row a shard


def _tamper_and_repeat(sref: ShardSetRef) -> None:
    """Row 3 of shard 1 gets another text, and shard 2 is overwritten with shard 1."""
    first, second = sref.shards[0], sref.shards[1]
    table = pq.read_table(first.path)
    texts = table.column("text").to_pylist()
    texts[3] = "tampered"
    pq.write_table(table.set_column(1, "text", pa.array(texts)), first.path)
    pq.write_table(pq.read_table(first.path), second.path)


def test_a_damaged_shard_set_gets_the_whole_set_report(tmp_path):
    cref, oref, sref = _shard_set(tmp_path)
    _tamper_and_repeat(sref)
    outcome = check_shard_set(cref, oref, sref)
    assert not outcome.passed
    assert "checked" not in outcome.metadata  # the whole-set report, every position
    assert outcome.metadata["differing_positions"] == 25  # shard 2 holds shard 1's ids
    assert outcome.metadata["content_differs"] == 26  # those, and the tampered row 3
    assert outcome.metadata["repeated_rows"] == 50


def test_shards_that_do_not_tile_the_positions_get_the_whole_set_report(tmp_path):
    cref, oref, sref = _shard_set(tmp_path)
    dropped = ShardSetRef(uri=sref.uri, recipe="r", shards=sref.shards[:-1], ordering=oref)
    outcome = check_shard_set(cref, oref, dropped)
    assert not outcome.passed and outcome.metadata["missing_rows"] == 15


def test_a_large_damaged_set_is_reported_from_its_per_shard_counts(tmp_path, monkeypatch):
    """Past WHOLE_SET_ROWS a failing set is reported from the streamed comparison: exact
    counts per shard and the first offenders, with no whole-set arrays."""
    monkeypatch.setattr(content, "WHOLE_SET_ROWS", 0)
    cref, oref, sref = _shard_set(tmp_path)
    _tamper_and_repeat(sref)
    outcome = check_shard_set(cref, oref, sref)
    assert not outcome.passed
    meta = outcome.metadata
    assert meta["checked"].startswith("per shard")
    assert meta["differing_positions"] == 25 and meta["content_differs"] == 26
    assert meta["offending_positions"][0] == 3  # the tampered row comes first
    assert set(meta["failed_expectations"]) == {
        "shard ids differ from the expected ids",
        "shard content differs from the corpus rows",
    }
    assert "position=3 shard=0" in outcome.description


def test_a_large_set_missing_a_shard_names_the_missing_rows(tmp_path, monkeypatch):
    monkeypatch.setattr(content, "WHOLE_SET_ROWS", 0)
    cref, oref, sref = _shard_set(tmp_path)
    dropped = ShardSetRef(uri=sref.uri, recipe="r", shards=sref.shards[:-1], ordering=oref)
    outcome = check_shard_set(cref, oref, dropped)
    assert not outcome.passed and outcome.metadata["missing_rows"] == 15
    assert "15 expected row(s) missing" in outcome.description


def test_a_large_set_whose_ordering_repeats_a_row_is_refused(tmp_path, monkeypatch):
    """The ordering table names a corpus row twice: the streamed check counts the repeat
    (and the shard row at that position, which differs from it)."""
    monkeypatch.setattr(content, "WHOLE_SET_ROWS", 0)
    cref, oref, sref = _shard_set(tmp_path)
    loc = resolve(oref.uri)
    rows = pq.read_table(loc.path).column("row").to_numpy().copy()
    rows[40] = rows[10]  # position 40 now reads position 10's corpus row
    write_ordering_table(loc, pq.read_table(cref.uri).column("id"), rows)
    outcome = check_shard_set(cref, oref, sref)
    meta = outcome.metadata
    assert not outcome.passed and meta["repeated_rows"] == 1
    assert meta["offending_positions"] == [40]
    assert meta["differing_positions"] == 1 and meta["content_differs"] == 1
