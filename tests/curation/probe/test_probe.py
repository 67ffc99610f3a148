"""Probe tests: a tiny model and budget so the whole file runs in seconds."""

import json
import os
from dataclasses import replace

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from curation.probe import data, metrics
from curation.probe.model import GPT
from curation.probe.report import write_report
from curation.probe.train import (
    ProbeConfig,
    ProbeJob,
    ProbeResult,
    run_probes,
    steps_at_documents,
    train_probe,
)

TINY = ProbeConfig(
    n_layer=1,
    n_head=2,
    d_model=16,
    context=16,
    batch_size=4,
    token_budget=64 * 30,
    eval_points=3,
    eval_max_bytes=512,
    seed=3,
)


def _docs(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    words = np.array(["data", "order", "probe", "the", "of", "zébra", "x", "curriculum"])
    return [" ".join(rng.choice(words, int(k))) for k in rng.integers(1, 15, n)]


def _write(path, texts, scores=None, ids=None) -> str:
    cols = {"id": np.arange(len(texts)) if ids is None else ids, "text": texts}
    if scores is not None:
        cols["score"] = scores
    pq.write_table(pa.table(cols), path)
    return str(path)


@pytest.fixture
def corpus(tmp_path):
    docs = _docs(300, 0)
    scores = np.linspace(0.0, 1.0, len(docs))
    shards = [
        _write(
            tmp_path / f"s{i}.parquet",
            docs[i * 100 : (i + 1) * 100],
            scores[i * 100 : (i + 1) * 100],
        )
        for i in range(3)
    ]
    ev = {
        "heldout_random": [_write(tmp_path / "ev.parquet", _docs(60, 1))],
        "heldout_low": [_write(tmp_path / "low.parquet", _docs(60, 2))],
    }
    return docs, shards, ev


def _expected_stream(docs: list[str]) -> np.ndarray:
    return np.frombuffer(b"".join(d.encode() + b"\x00" for d in docs), dtype=np.uint8)


def test_batches_follow_shard_order_exactly(corpus):
    docs, shards, _ = corpus
    stream = _expected_stream(docs)
    plan = data.plan_batches(data.stream_size(shards), batch_size=4, context=16)
    assert plan.stream_bytes == stream.size
    got = [data.block_to_xy(b, 4, 16) for b in data.iter_blocks(shards, plan)]
    xs = np.concatenate([x.reshape(-1) for x, _ in got])
    ys = np.concatenate([y.reshape(-1) for _, y in got])
    np.testing.assert_array_equal(xs, stream[: xs.size])
    np.testing.assert_array_equal(ys, stream[1 : xs.size + 1])
    # reversed shard order gives the reversed document concatenation
    rev = data.plan_batches(data.stream_size(shards[::-1]), 4, 16)
    first = next(data.iter_blocks(shards[::-1], rev))
    np.testing.assert_array_equal(first, _expected_stream(docs[200:])[: rev.block])


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 4), st.integers(2, 12), st.integers(64, 4000), st.integers(1, 7))
def test_spread_blocks_read_the_right_bytes(batch, context, budget, read_rows):
    """Budget-limited plans spread blocks over the whole stream; each block is exact."""
    docs = _docs(120, 5)
    stream = _expected_stream(docs)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        shards = [
            _write(os.path.join(tmp, f"{i}.parquet"), docs[i * 40 : (i + 1) * 40]) for i in range(3)
        ]
        old, data.READ_ROWS = data.READ_ROWS, read_rows
        try:
            plan = data.plan_batches(stream.size, batch, context, budget)
            blocks = list(data.iter_blocks(shards, plan))
        finally:
            data.READ_ROWS = old
    assert len(blocks) == plan.steps and np.all(np.diff(plan.starts) >= batch * context)
    assert plan.starts[-1] + plan.block <= stream.size
    for s, b in zip(plan.starts, blocks, strict=True):
        np.testing.assert_array_equal(b, stream[s : s + plan.block])


def test_step_scores_are_byte_weighted(corpus):
    docs, shards, _ = corpus
    plan = data.plan_batches(data.stream_size(shards), 4, 16)
    got = data.step_scores(shards, plan)
    per_byte = np.repeat(np.linspace(0.0, 1.0, len(docs)), [len(d.encode()) + 1 for d in docs])
    want = [per_byte[s : s + 64].mean() for s in plan.starts]
    np.testing.assert_allclose(got, want, rtol=1e-9)


def test_same_seed_is_deterministic(corpus):
    _, shards, ev = corpus
    a = train_probe(shards, ev, TINY, method="sorted")
    b = train_probe(shards, ev, TINY, method="sorted")
    assert a.steps == 30 and a.train_loss == b.train_loss and a.eval_loss == b.eval_loss
    assert a.grad_norm == b.grad_norm
    c = train_probe(shards, ev, replace(TINY, seed=4), method="sorted")
    assert c.train_loss != a.train_loss


def test_initial_weights_depend_on_seed_only(corpus):
    """Two orderings with one seed start from identical weights (same initial eval loss)."""
    _, shards, ev = corpus
    one = train_probe(shards, ev, TINY)
    other = train_probe(shards[::-1], ev, TINY)
    assert one.eval_loss["heldout_random"][0] == other.eval_loss["heldout_random"][0]
    assert one.train_loss[1:] != other.train_loss[1:]
    torch.manual_seed(123)
    m1 = GPT(TINY.model_config(), seed=7)
    torch.manual_seed(999)
    m2 = GPT(TINY.model_config(), seed=7)
    for p, q in zip(m1.state_dict().values(), m2.state_dict().values(), strict=True):
        assert torch.equal(p, q)


def test_result_round_trips_through_json(corpus):
    _, shards, ev = corpus
    r = train_probe(shards, ev, TINY, boundary_steps=[5, 10, 999], method="folding")
    assert r.boundary_ratios[2] is None and all(v > 0 for v in r.boundary_ratios[:2])
    back = ProbeResult.from_dict(json.loads(json.dumps(r.to_dict())))
    assert back == r
    assert ProbeConfig.from_dict(back.config) == TINY
    with pytest.raises(ValueError, match="lacks"):
        ProbeResult.from_dict({"method": "x"})


def test_steps_at_documents(corpus):
    docs, shards, _ = corpus
    cfg = replace(TINY, token_budget=None)
    steps = steps_at_documents(shards, [0, 100, 200], cfg)
    offsets = np.cumsum([0] + [len(d.encode()) + 1 for d in docs])
    assert steps == [0, int(offsets[100] // 64), int(offsets[200] // 64)]
    with pytest.raises(ValueError, match="out of range"):
        steps_at_documents(shards, [300], cfg)


def test_bad_input_is_named(tmp_path, corpus):
    _, shards, ev = corpus
    bad = str(tmp_path / "notext.parquet")
    pq.write_table(pa.table({"body": ["a"]}), bad)
    with pytest.raises(ValueError, match="notext.parquet"):
        train_probe(shards + [bad], ev, TINY)
    nulls = _write(tmp_path / "nulls.parquet", ["ok", None], ids=np.array([10, 11]))
    with pytest.raises(ValueError, match=r"\[11\]"):
        train_probe([nulls] * 50, ev, TINY)
    with pytest.raises(ValueError, match="shorter than one batch"):
        train_probe([_write(tmp_path / "short.parquet", ["ab"])], ev, TINY)


def _fake(method: str, seed: int, final: float) -> ProbeResult:
    """A result with a chosen final loss: aggregation logic without training time."""
    curve = [8.0, 4.0, final - 0.01, final]
    return ProbeResult(
        method=method,
        seed=seed,
        config=TINY.to_dict(),
        n_params=10,
        steps=4,
        tokens=256,
        stream_bytes=1000,
        train_loss=[5.0, 4.0, 3.0, 2.5],
        grad_norm=[1.0, 0.9, 0.8, 1.2],
        lr=[1e-3] * 4,
        eval_steps=[0, 1, 2, 4],
        eval_loss={"heldout_random": curve, "heldout_low": curve},
        final_eval={"heldout_random": final, "heldout_low": final},
        eval_bytes={"heldout_random": 256, "heldout_low": 256},
        step_scores=[0.1, 0.2, 0.3, 0.4],
        boundary_steps=[2],
        boundary_ratios=[1.3],
        spike_count=0,
        tokens_per_s=1.0,
        train_s=1.0,
        wall_s=1.0,
        device="cpu",
    )


def test_report_says_within_noise_only_when_it_is(tmp_path):
    results = [_fake("random", s, 3.0 + d) for s, d in enumerate([0.0, 0.01, -0.01])]
    # 'noisy' differs by +0.001 on average with paired sd 0.01: within noise
    results += [_fake("noisy", s, 3.0 + d) for s, d in enumerate([0.011, 0.0, -0.008])]
    # 'clear' is 0.05 worse on every seed: a real difference
    results += [_fake("clear", s, 3.05 + d) for s, d in enumerate([0.0, 0.011, -0.01])]
    rep = write_report(results, str(tmp_path / "rep"), title="T")
    rows = {r["method"]: r for r in rep["table"]}
    assert rows["noisy"]["heldout_random.diff_verdict"] == "within noise"
    assert rows["clear"]["heldout_random.diff_verdict"] == "worse"
    md = open(rep["report_path"]).read()
    assert md == rep["markdown"]
    assert "`noisy` vs `random` on `heldout_random`: **within noise**" in md
    assert "`clear` vs `random` on `heldout_random`: **worse**" in md
    assert len(rep["images"]) == 6
    for p in rep["images"]:
        assert open(p, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
        assert os.path.basename(p) in md
    assert rows["clear"]["low_rebound.mean"] == pytest.approx(0.01)  # final - min of curve


def test_verdict_rule():
    assert metrics.verdict(0.01, 0.001, 3) == "worse"
    assert metrics.verdict(-0.01, 0.001, 3) == "better"
    assert metrics.verdict(0.001, 0.001, 3) == "within noise"
    assert metrics.verdict(0.5, float("nan"), 1).startswith("noise unknown")
    with pytest.raises(ValueError, match="duplicate"):
        metrics.group_by_method([_fake("a", 0, 1.0), _fake("a", 0, 1.0)])


def test_run_probes_inline_keeps_job_order_and_seed(corpus):
    _, shards, ev = corpus
    jobs = [ProbeJob("b", 5, shards[::-1], ev, TINY), ProbeJob("a", 3, shards, ev, TINY)]
    got = run_probes(jobs, workers=1)
    assert [(r.method, r.seed) for r in got] == [("b", 5), ("a", 3)]


@pytest.mark.slow  # spawning two torch processes costs seconds on a busy 2-core machine
def test_run_probes_in_two_processes_matches_in_process(corpus):
    _, shards, ev = corpus
    jobs = [ProbeJob("a", 3, shards, ev, TINY), ProbeJob("b", 5, shards[::-1], ev, TINY)]
    par = run_probes(jobs, workers=2)
    assert [r.method for r in par] == ["a", "b"] and [r.seed for r in par] == [3, 5]
    seq = train_probe(shards, ev, TINY, method="a")
    assert par[0].train_loss == seq.train_loss
