"""One (recipe, seed) run: deterministic, seed-only initial weights, boundaries from the
ordering's metadata, progress reports, and a checkpointed run that resumes exactly."""

import json
from dataclasses import replace

import pytest
import torch

from curation.probe import train
from curation.probe.config import ProbeConfig
from curation.probe.experiment import make_jobs, run_many
from curation.probe.result import ProbeResult
from tests.curation.probe.conftest import TINY


@pytest.fixture
def jobs(corpus, tmp_path):
    table, scores = corpus
    return {
        (j.recipe, j.seed): j
        for j in make_jobs(table, scores, ["random", "sorted", "folding"], TINY, str(tmp_path))
    }


def test_same_job_same_losses_and_seed_only_init(jobs):
    a = train.run_probe(jobs["sorted", 0])
    b = train.run_probe(jobs["sorted", 0])
    assert a.steps == 30 and a.train_loss == b.train_loss and a.grad_norm == b.grad_norm
    assert a.eval_loss == b.eval_loss
    other = train.run_probe(jobs["random", 0])  # another order, same seed: same start
    assert other.eval_loss["heldout_random"][0] == a.eval_loss["heldout_random"][0]
    assert other.train_loss[1:] != a.train_loss[1:]
    seed1 = train.run_probe(jobs["sorted", 1])
    assert seed1.eval_loss["heldout_random"][0] != a.eval_loss["heldout_random"][0]


def test_boundaries_come_from_the_ordering_metadata(jobs):
    folding = train.run_probe(jobs["folding", 0])
    steps = folding.boundary_steps["fold"]
    assert 1 <= len(steps) <= 4 and steps == sorted(set(steps))  # at most one per step
    assert set(folding.diagnostics["boundary"]) == {"fold"}
    for recipe in ("random", "sorted"):
        r = train.run_probe(jobs[recipe, 0])
        assert r.boundary_steps == {} and r.diagnostics["boundary"] == {}
    bad = replace(jobs["folding", 0], ordering={**jobs["folding", 0].ordering, "n": 7})
    with pytest.raises(ValueError, match="ordering of 7 documents"):
        train.run_probe(bad)


def test_progress_is_reported_while_training(jobs):
    seen = []
    job = replace(jobs["random", 0], config=replace(TINY, log_every=7))
    result = train.run_probe(job, seen.append)
    steps = [p.step for p in seen]
    assert steps == sorted(steps) and steps[-1] == result.steps and len(steps) >= 4
    assert all(p.tokens_per_s > 0 and p.loss_bits > 0 for p in seen)


def test_checkpointed_run_resumes_to_the_same_result(jobs, monkeypatch):
    cfg = replace(TINY, checkpoint_every=10)
    job = replace(jobs["sorted", 0], config=cfg)
    whole = train.run_probe(replace(job, work_dir=job.work_dir + "-whole"))
    calls = {"n": 0}
    real = train.Checkpoint.save

    def crash_after_two(self, state):
        real(self, state)
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("simulated preemption")

    monkeypatch.setattr(train.Checkpoint, "save", crash_after_two)
    with pytest.raises(KeyboardInterrupt):
        train.run_probe(job)
    monkeypatch.setattr(train.Checkpoint, "save", real)
    resumed = train.run_probe(job)
    assert resumed.resumed_from == 20
    assert resumed.train_loss == whole.train_loss and resumed.eval_loss == whole.eval_loss


def test_bf16_autocast_runs_on_cpu(jobs):
    job = replace(jobs["random", 0], config=replace(TINY, precision="bf16"))
    r = train.run_probe(job)
    assert all(v == v for v in r.train_loss) and r.device == "cpu"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_run_matches_cpu_closely(jobs):
    cpu = train.run_probe(jobs["random", 0])
    gpu = train.run_probe(replace(jobs["random", 0], config=replace(TINY, device="cuda")))
    assert gpu.device.startswith("cuda")
    assert abs(gpu.train_loss[-1] - cpu.train_loss[-1]) < 0.05


def test_result_round_trips_through_json(jobs):
    r = train.run_probe(jobs["folding", 1])
    back = ProbeResult.from_dict(json.loads(json.dumps(r.to_dict())))
    assert back == r and ProbeConfig.from_dict(back.config) == TINY
    with pytest.raises(ValueError, match="lacks"):
        ProbeResult.from_dict({"recipe": "x"})


@pytest.mark.slow  # spawning two torch processes costs seconds on a busy 2-core machine
def test_two_processes_give_the_in_process_results(jobs):
    picked = [jobs["folding", 1], jobs["random", 0]]
    par = run_many(picked, workers=2)
    assert [(r.recipe, r.seed) for r in par] == [("folding", 1), ("random", 0)]
    assert par[0].train_loss == train.run_probe(picked[0]).train_loss


def test_gradient_accumulation_matches_one_large_batch(jobs):
    """batch 4 x 2 accumulation steps trains on the same tokens as batch 8 in one step,
    with the same gradients up to float summation order."""
    job = jobs["sorted", 0]
    one = train.run_probe(replace(job, config=replace(TINY, batch_size=8, grad_accum=1)))
    two = train.run_probe(replace(job, config=replace(TINY, batch_size=4, grad_accum=2)))
    assert one.steps == two.steps and one.tokens == two.tokens
    assert max(abs(a - b) for a, b in zip(one.train_loss, two.train_loss, strict=True)) < 1e-3
    assert abs(one.eval_loss["heldout_random"][-1] - two.eval_loss["heldout_random"][-1]) < 1e-3
