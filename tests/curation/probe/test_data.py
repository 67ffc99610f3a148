"""Token streams read shards strictly in order, drop held-out documents, and map the
ordering's positions and scores onto training steps exactly."""

import os
import tempfile

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curation.probe import data
from curation.probe.heldout import HeldOut, id_hash
from curation.probe.tokens import load
from tests.curation.probe.conftest import docs


def _shards(tmp, texts, scores, parts=3, ids=None) -> list[str]:
    n = len(texts)
    ids = [f"doc-{i:04d}" for i in range(n)] if ids is None else ids
    table = pa.table({"id": ids, "text": texts, "_curation_score": scores})
    cuts = np.linspace(0, n, parts + 1).astype(int)
    out = []
    for i in range(parts):
        path = os.path.join(tmp, f"part-{i}.parquet")
        pq.write_table(table.slice(cuts[i], cuts[i + 1] - cuts[i]), path, row_group_size=37)
        out.append(path)
    return out


BYTES = load("bytes")


def _bytes(texts) -> np.ndarray:
    """The expected stream: each document's UTF-8 bytes, then the end-of-document id."""
    parts = [np.append(np.frombuffer(t.encode(), np.uint8), BYTES.tokenizer.eot_id) for t in texts]
    return np.concatenate(parts).astype(BYTES.dtype)


def test_stream_is_the_shards_in_order_minus_heldout(tmp_path):
    texts = docs(300, 0)
    scores = np.linspace(0.0, 1.0, 300)
    shards = _shards(tmp_path, texts, scores)
    ids = pa.array([f"doc-{i:04d}" for i in range(300)])
    held = HeldOut.from_corpus(ids, scores, 0.1, 0.05)
    drop = held.mask(ids, scores)
    assert 30 <= drop.sum() <= 60
    s = data.build_stream(shards, BYTES, held, str(tmp_path / "s"), "k1")
    kept = [t for t, d in zip(texts, drop, strict=True) if not d]
    np.testing.assert_array_equal(np.asarray(s.token_array()), _bytes(kept))
    lengths = np.where(drop, 0, [len(t.encode()) + 1 for t in texts])
    np.testing.assert_array_equal(np.asarray(s.doc_ends()), np.cumsum(lengths))
    assert s.docs == 300 and s.has_scores
    # reused under the same key, rebuilt under another; nothing half-written is left
    again = data.build_stream(shards[::-1], BYTES, held, str(tmp_path / "s"), "k1")
    assert again == s
    rev = data.build_stream(shards[::-1], BYTES, None, str(tmp_path / "s"), "k2")
    assert np.asarray(rev.token_array())[:50].tobytes() == _bytes(texts[200:])[:50].tobytes()
    assert not [f for f in os.listdir(tmp_path / "s") if f.startswith(".")]


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 4), st.integers(2, 12), st.integers(64, 4000), st.integers(1, 7))
def test_spread_blocks_read_the_right_tokens(rows, context, budget, read_rows):
    """Budget-limited plans spread blocks over the whole stream; each block is exact."""
    texts = docs(120, 5)
    stream = _bytes(texts)
    with tempfile.TemporaryDirectory() as tmp:
        old, data.READ_ROWS = data.READ_ROWS, read_rows
        try:
            shards = _shards(tmp, texts, np.zeros(120))
            s = data.build_stream(shards, BYTES, None, os.path.join(tmp, "s"), "k")
        finally:
            data.READ_ROWS = old
        plan = data.plan_batches(s.tokens, rows, context, budget)
        tokens = s.token_array()
        blocks = [data.block(tokens, plan, i) for i in range(plan.steps)]
    assert plan.steps == min(
        (stream.size - 1) // (rows * context), max(1, budget // (rows * context))
    )
    assert np.all(np.diff(plan.starts) >= rows * context)
    assert plan.starts[-1] + plan.block <= stream.size
    for start, b in zip(plan.starts, blocks, strict=True):
        np.testing.assert_array_equal(b, stream[start : start + plan.block])


def test_step_scores_are_token_weighted_and_positions_map_to_steps(tmp_path):
    texts = docs(300, 1)
    scores = np.random.default_rng(0).random(300)
    s = data.build_stream(_shards(tmp_path, texts, scores), BYTES, None, str(tmp_path / "s"), "k")
    plan = data.plan_batches(s.tokens, 4, 16)
    per_token = np.repeat(scores, [len(t.encode()) + 1 for t in texts])
    want = [per_token[a : a + 64].mean() for a in plan.starts]
    np.testing.assert_allclose(data.step_scores(s, plan), want, rtol=1e-9)
    offsets = np.concatenate([[0], np.cumsum([len(t.encode()) + 1 for t in texts])])
    got = data.steps_at_positions(s, plan, np.array([0, 100, 101, 200]))
    assert got.tolist() == sorted({int(offsets[p] // 64) for p in (100, 101, 200)})
    with pytest.raises(data.ProbeDataError, match="out of range"):
        data.steps_at_positions(s, plan, np.array([300]))


def test_spread_plan_maps_a_boundary_in_a_gap_to_the_next_step():
    plan = data.plan_batches(10_000, 2, 10, token_budget=200)  # 10 steps of 20 over 10k
    assert plan.steps == 10
    gap = int(plan.starts[3]) + 50  # after block 3 ends, before block 4 starts
    assert plan.first_step_at(np.array([int(plan.starts[3]), gap])).tolist() == [3, 4]
    assert plan.first_step_at(np.array([10_000])).tolist() == [10]  # past the end


def test_id_hash_is_vectorised_and_slice_invariant():
    ids = pa.array(["a", "b", "", "ab", "ba", "é" * 300, "doc-1"])
    h = id_hash(ids)
    assert len(set(h.tolist())) == len(h)
    np.testing.assert_array_equal(id_hash(ids.slice(3)), h[3:])
    np.testing.assert_array_equal(id_hash(pa.chunked_array([ids[:2], ids[2:]])), h)
    ints = id_hash(pa.array([1, 2, 3], pa.int64()))
    assert len(set(ints.tolist())) == 3


@settings(max_examples=30, deadline=None)
@given(st.lists(st.text(max_size=12), min_size=1, max_size=40, unique=True))
def test_id_hash_depends_on_the_id_alone(values):
    ids = pa.array(values)
    h = id_hash(ids)
    singles = np.concatenate([id_hash(pa.array([v])) for v in values])
    np.testing.assert_array_equal(h, singles)


def test_heldout_sets_have_the_asked_sizes_and_pools():
    n = 5000
    ids = pa.array([f"id{i}" for i in range(n)])
    scores = np.random.default_rng(1).random(n)
    held = HeldOut.from_corpus(ids, scores, 0.04, 0.02)
    sets = held.sets(ids, scores)
    assert [int(sets[k].sum()) for k in ("heldout_random", "heldout_low", "heldout_high")] == [
        200,
        100,
        100,
    ]
    assert scores[sets["heldout_low"]].max() <= np.quantile(scores, 0.1)
    assert scores[sets["heldout_high"]].min() >= np.quantile(scores, 0.9)
    perm = np.random.default_rng(2).permutation(n)  # any order of the same documents
    again = held.mask(ids.take(pa.array(perm)), scores[perm])
    np.testing.assert_array_equal(again, held.mask(ids, scores)[perm])


def test_eval_tokens_are_heldout_documents_in_corpus_order(corpus):
    table, scores = corpus
    held = HeldOut.from_corpus(table.column("id"), scores, 0.05, 0.02)
    batches = pa.table(
        {**{c: table.column(c) for c in ("id", "text")}, "score": scores}
    ).to_batches(50)
    got = data.collect_eval_tokens(iter(batches), held, BYTES, 200)
    sets = held.sets(table.column("id"), scores)
    texts = table.column("text").to_pylist()
    for name, mask in sets.items():
        want = _bytes([t for t, m in zip(texts, mask, strict=True) if m])[:200]
        np.testing.assert_array_equal(got[name], want)


def test_document_encoder_places_eot_after_each_document():
    tokens, counts = BYTES.encode(pa.array(["ab", "", "xé"]))
    eot = BYTES.tokenizer.eot_id
    assert counts.tolist() == [3, 1, 4]
    assert tokens.tolist() == [97, 98, eot, eot, 120, 0xC3, 0xA9, eot]
    assert BYTES.vocab_size == eot + 1


def test_bad_shards_are_named(tmp_path):
    bad = str(tmp_path / "notext.parquet")
    pq.write_table(pa.table({"body": ["a"]}), bad)
    with pytest.raises(data.ProbeDataError, match="notext.parquet"):
        data.build_stream([bad], BYTES, None, str(tmp_path / "s"), "k")
    nulls = str(tmp_path / "nulls.parquet")
    pq.write_table(
        pa.table({"id": ["x", "y"], "text": ["ok", None], "_curation_score": [1.0, 2.0]}), nulls
    )
    with pytest.raises(data.ProbeDataError, match="'y'"):
        data.build_stream([nulls], BYTES, None, str(tmp_path / "s"), "k")
    with pytest.raises(data.ProbeDataError, match="shorter than one step"):
        data.plan_batches(10, 4, 16)


def test_id_hash_is_the_same_in_chunks(monkeypatch):
    import curation.probe.heldout as heldout

    ids = pa.array([f"doc-{i}" for i in range(1000)])
    whole = id_hash(ids)
    monkeypatch.setattr(heldout, "CHUNK", 77)
    np.testing.assert_array_equal(id_hash(ids), whole)


def test_a_selected_recipe_trains_one_pass_over_what_it_kept_and_says_when_capped():
    from dataclasses import replace

    from curation.probe.train import ProbeJob, _extra
    from tests.curation.probe.conftest import TINY

    selection = {"rule": "top_fraction", "value": 0.5, "kept": 30, "total": 60}
    for budget, capped in ((10**9, True), (2_000, False), (None, False)):
        cfg = replace(TINY, token_budget=budget)
        job = ProbeJob(
            "top", 0, (), {}, cfg, "", ordering={"method": "saw", "selection": selection}
        )
        plan = data.plan_batches(10_000, 4, 64, cfg.token_budget)
        assert plan.steps <= (10_000 - 1) // 256  # one pass at most: no block read twice
        assert len(set(plan.starts.tolist())) == plan.steps
        extra = _extra(job, plan)
        assert extra["selection"] == selection and extra["budget_capped"] is capped
