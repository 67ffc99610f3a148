"""Run ONE probe: train the model on one recipe's token stream, in order, for one seed.

:func:`run_probe` builds (or reuses) the recipe's token stream, plans the steps, starts
the model from weights drawn from the seed alone, trains with periodic evaluations on the
held-out sets and reports progress to a callback. With ``checkpoint_every`` it saves the
model, optimiser and curves so a rerun resumes where the last one stopped. On CPU the
run is deterministic: the same job gives the same losses.
"""

import contextlib
import hashlib
import io
import json
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import torch

from curation import storage
from curation.ordering.engine import boundaries as ordering_boundaries
from curation.probe import data, diagnostics
from curation.probe.config import ProbeConfig
from curation.probe.heldout import HeldOut
from curation.probe.model import GPT
from curation.probe.result import ProbeResult
from curation.probe.tokens import load as load_tokenizer

LN2 = math.log(2.0)


@dataclass(frozen=True)
class Progress:
    """One progress report: steps done, the latest training loss and the speed."""

    step: int
    steps: int
    loss_bits: float
    tokens_per_s: float


@dataclass(frozen=True)
class ProbeJob:
    """One (recipe, seed) run: where its shards and evaluation sets are, what to hold out,
    the ordering that produced the shards (``{"method", "params", "n"}``; None = no
    boundaries) and a local work directory for the token stream and checkpoints."""

    recipe: str
    seed: int
    shards: tuple[str, ...]
    eval_sets: Mapping[str, str]
    config: ProbeConfig
    work_dir: str
    heldout: HeldOut | None = None
    ordering: Mapping | None = None
    extra: Mapping = field(default_factory=dict)

    def stream_key(self) -> str:
        """Content key of the token stream: shards, tokenizer and held-out predicate."""
        held = None if self.heldout is None else self.heldout.to_dict()
        text = json.dumps([list(self.shards), self.config.tokenizer, held], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def lr_schedule(steps: int, cfg: ProbeConfig) -> np.ndarray:
    """Linear warmup, then cosine decay to ``min_lr_frac * lr``."""
    s = np.arange(steps, dtype=np.float64)
    warm = warmup_steps(steps, cfg)
    progress = np.clip((s - warm) / max(1, steps - warm), 0.0, 1.0)
    cosine = cfg.min_lr_frac + (1 - cfg.min_lr_frac) * 0.5 * (1 + np.cos(math.pi * progress))
    return cfg.lr * np.where(s < warm, (s + 1) / warm, cosine)


def warmup_steps(steps: int, cfg: ProbeConfig) -> int:
    return max(1, int(round(cfg.warmup_frac * steps)))


def make_optimizer(model: GPT, cfg: ProbeConfig, device: torch.device) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only (not on norms and biases)."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    fused = device.type == "cuda"
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), fused=fused)


def eval_schedule(steps: int, cfg: ProbeConfig) -> list[int]:
    """Steps completed at each evaluation: 0, about ``eval_points`` more, and the end."""
    every = max(1, steps // cfg.eval_points)
    return sorted({0, *range(every, steps, every), steps})


def autocast(cfg: ProbeConfig, device: torch.device):
    if cfg.precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.no_grad()
def evaluate(model, windows: tuple[torch.Tensor, torch.Tensor], cfg, device) -> float:
    """Mean next-token loss of an evaluation set in bits per token."""
    x, y = windows
    model.eval()
    total = torch.zeros((), device=device, dtype=torch.float64)
    for i in range(0, x.shape[0], cfg.eval_batch):
        with autocast(cfg, device):
            logits, _ = model(x[i : i + cfg.eval_batch])
        total += torch.nn.functional.cross_entropy(
            logits.float().reshape(-1, logits.size(-1)),
            y[i : i + cfg.eval_batch].reshape(-1),
            reduction="sum",
        )
    model.train()
    return float(total.item()) / (x.numel() * LN2)


def load_eval_sets(job: ProbeJob, device: torch.device) -> dict:
    """``{name: (x, y)}`` windows of each evaluation set (``.npy`` token arrays)."""
    out = {}
    for name, uri in job.eval_sets.items():
        tokens = np.load(io.BytesIO(storage.read_bytes(storage.resolve(uri))), allow_pickle=False)
        tokens = tokens[: job.config.eval_max_tokens]
        x, y = data.eval_windows(tokens.astype(np.int64), job.config.context)
        out[name] = (torch.from_numpy(x).to(device), torch.from_numpy(y).to(device))
    return out


def boundary_steps(job: ProbeJob, stream, plan) -> dict[str, list[int]]:
    """The ordering's boundaries by kind, as the distinct steps that first train on them."""
    if not job.ordering:
        return {}
    n = int(job.ordering["n"])
    if n != stream.docs:
        raise data.ProbeDataError(
            f"ordering of {n} documents but the shards of {job.recipe!r} hold {stream.docs}"
        )
    kinds = ordering_boundaries(job.ordering["method"], dict(job.ordering["params"]), n)
    return {k: data.steps_at_positions(stream, plan, v).tolist() for k, v in kinds.items()}


class Checkpoint:
    """The run's state on local disk, written atomically; keyed so a changed job starts over."""

    def __init__(self, job: ProbeJob) -> None:
        key = hashlib.sha256(
            json.dumps([job.stream_key(), job.config.to_dict(), job.seed]).encode()
        ).hexdigest()[:16]
        self.path = os.path.join(job.work_dir, f"ckpt-{job.recipe}-{job.seed}-{key}.pt")

    def load(self) -> dict | None:
        if not os.path.exists(self.path):
            return None
        return torch.load(self.path, map_location="cpu", weights_only=False)

    def save(self, state: dict) -> None:
        tmp = f"{self.path}.{os.getpid()}.tmp"
        torch.save(state, tmp)
        os.replace(tmp, self.path)


def run_probe(job: ProbeJob, progress: Callable[[Progress], None] | None = None) -> ProbeResult:
    """Train one probe for ``job``; see the module docstring."""
    wall0 = time.perf_counter()
    cfg = job.config
    device = pick_device(cfg.device)
    torch.set_num_threads(cfg.threads)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    tokenizer = load_tokenizer(cfg.tokenizer)
    stream = data.build_stream(
        list(job.shards),
        tokenizer,
        job.heldout,
        os.path.join(job.work_dir, f"stream-{job.stream_key()}"),
        job.stream_key(),
    )
    plan = data.plan_batches(
        stream.tokens, cfg.batch_size * cfg.grad_accum, cfg.context, cfg.token_budget
    )
    windows = load_eval_sets(job, device)
    model = GPT(cfg, tokenizer.vocab_size, seed=job.seed).to(device)
    opt = make_optimizer(model, cfg, device)
    ckpt = Checkpoint(job)
    state = _fresh_state(plan, windows) if cfg.checkpoint_every == 0 else _resume(ckpt, model, opt)
    if state is None:
        state = _fresh_state(plan, windows)
    train_s = _train(model, opt, stream, plan, windows, state, ckpt, cfg, device, progress)
    bsteps = boundary_steps(job, stream, plan)
    gn = np.asarray(state["grad_norm"], dtype=np.float64)
    skip = warmup_steps(plan.steps, cfg)
    evals = state["eval_steps"]
    return ProbeResult(
        recipe=job.recipe,
        seed=job.seed,
        config=cfg.to_dict(),
        n_params=model.num_params(),
        steps=plan.steps,
        tokens=plan.tokens,
        stream_tokens=stream.tokens,
        train_loss=state["train_loss"],
        grad_norm=state["grad_norm"],
        eval_steps=evals,
        eval_loss=state["eval_loss"],
        eval_tokens={k: int(w[0].numel()) for k, w in windows.items()},
        step_scores=_maybe_list(data.step_scores(stream, plan)),
        boundary_steps=bsteps,
        diagnostics={
            "low_rebound": diagnostics.rebound(evals, state["eval_loss"].get("heldout_low", [])),
            "boundary": {
                k: diagnostics.boundary_ratio(gn, v, cfg.median_window, cfg.boundary_horizon, skip)
                for k, v in bsteps.items()
            },
        },
        tokens_per_s=(plan.tokens - state["resumed_tokens"]) / train_s if train_s else 0.0,
        train_s=train_s,
        wall_s=time.perf_counter() - wall0,
        device=str(device),
        resumed_from=state["resumed_from"],
        extra=_extra(job, plan),
    )


def _extra(job: ProbeJob, plan) -> dict:
    """The job's extras, plus what the report says about the data: the recipe's selection
    (kept of total) and whether the budget asked for more than one pass over it."""
    extra = dict(job.extra)
    selection = (job.ordering or {}).get("selection")
    if selection:
        extra["selection"] = dict(selection)
    budget = job.config.token_budget
    extra["budget_capped"] = budget is not None and budget // plan.per_step > plan.steps
    return extra


def _maybe_list(a: np.ndarray | None) -> list[float] | None:
    return None if a is None else a.tolist()


def _fresh_state(plan: data.BatchPlan, windows: dict) -> dict:
    return {
        "step": 0,
        "train_loss": [],
        "grad_norm": [],
        "eval_steps": [],
        "eval_loss": {k: [] for k in windows},
        "resumed_from": 0,
        "resumed_tokens": 0,
    }


def _resume(ckpt: Checkpoint, model: GPT, opt: torch.optim.Optimizer) -> dict | None:
    saved = ckpt.load()
    if saved is None:
        return None
    model.load_state_dict(saved["model"])
    opt.load_state_dict(saved["optimizer"])
    torch.set_rng_state(saved["rng"])
    state = saved["state"]
    state["resumed_from"] = state["step"]
    state["resumed_tokens"] = state["step"] * saved["per_step"]
    return state


def _train(model, opt, stream, plan, windows, state, ckpt, cfg, device, progress) -> float:
    """The hot loop from ``state["step"]``; appends to ``state`` and returns train seconds.

    Losses and norms stay on the device and are copied out at log and evaluation points,
    so a GPU is not synchronised every step."""
    tokens = stream.token_array()
    lrs = lr_schedule(plan.steps, cfg)
    evals_at = set(eval_schedule(plan.steps, cfg))
    params = [p for p in model.parameters() if p.requires_grad]
    fwd = torch.compile(model) if cfg.compile and device.type == "cuda" else model
    rows, t = plan.rows, plan.context
    micro = cfg.batch_size
    pending_loss: list[torch.Tensor] = []
    pending_norm: list[torch.Tensor] = []

    def flush() -> None:
        if pending_loss:
            state["train_loss"] += (torch.stack(pending_loss).cpu() / LN2).tolist()
            state["grad_norm"] += torch.stack(pending_norm).cpu().tolist()
            pending_loss.clear()
            pending_norm.clear()

    def run_evals(step: int) -> None:
        state["eval_steps"].append(step)
        for name, w in windows.items():
            state["eval_loss"][name].append(evaluate(fwd, w, cfg, device))

    if state["step"] == 0 and not state["eval_steps"]:
        run_evals(0)
    model.train()
    train_s, t0, window_t0, window_step = 0.0, time.perf_counter(), time.perf_counter(), 0
    for step in range(state["step"], plan.steps):
        b = torch.from_numpy(data.block(tokens, plan, step)).to(device, non_blocking=True)
        x, y = b[:-1].view(rows, t), b[1:].view(rows, t)
        for group in opt.param_groups:
            group["lr"] = lrs[step]
        total = torch.zeros((), device=device)
        for m in range(cfg.grad_accum):
            with autocast(cfg, device):
                _, loss = fwd(x[m * micro : (m + 1) * micro], y[m * micro : (m + 1) * micro])
            (loss / cfg.grad_accum).backward()
            total += loss.detach() / cfg.grad_accum
        pending_norm.append(torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip).detach())
        opt.step()
        opt.zero_grad(set_to_none=True)
        pending_loss.append(total)
        done = step + 1
        if done in evals_at or done % cfg.log_every == 0 or done == plan.steps:
            flush()
            now = time.perf_counter()
            if progress is not None:
                speed = (done - window_step) * plan.per_step / max(now - window_t0, 1e-9)
                progress(Progress(done, plan.steps, state["train_loss"][-1], speed))
            window_t0, window_step = now, done
        if done in evals_at:
            train_s += time.perf_counter() - t0
            run_evals(done)
            t0 = window_t0 = time.perf_counter()  # progress speed counts training only
        if cfg.checkpoint_every and (done % cfg.checkpoint_every == 0 or done == plan.steps):
            flush()
            state["step"] = done
            train_s += time.perf_counter() - t0
            ckpt.save(
                {
                    "model": model.state_dict(),
                    "optimizer": opt.state_dict(),
                    "rng": torch.get_rng_state(),
                    "state": state,
                    "per_step": plan.per_step,
                }
            )
            t0 = time.perf_counter()
    flush()
    state["step"] = plan.steps
    return train_s + time.perf_counter() - t0
