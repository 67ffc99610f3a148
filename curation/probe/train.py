"""Train the byte-level probe on one ordering and measure what the ordering did.

One call = one (ordering, seed) run: the shards are read in order (no shuffling), the
model starts from weights drawn from the seed alone, and the result records the
training-loss curve, each evaluation set's bits/byte over training, the gradient-norm
series with spike and boundary diagnostics, and the throughput. Several runs go to
separate 1-thread processes (:func:`run_probes`): on a small CPU that beats one
multi-threaded run.
"""

import math
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, fields, replace
from multiprocessing import get_context

import numpy as np
import torch

from curation.probe import data
from curation.probe.model import GPT, GPTConfig

LN2 = math.log(2.0)


@dataclass(frozen=True)
class ProbeConfig:
    """Everything that decides a probe run. Defaults: the design's measured 0.5M-parameter
    setting; the pipeline's demo default is smaller (assets/probes.py ProbeRunConfig)."""

    n_layer: int = 4
    n_head: int = 4
    d_model: int = 96
    context: int = 256
    batch_size: int = 16
    lr: float = 3e-3
    warmup_frac: float = 0.05
    min_lr_frac: float = 0.1
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0
    #: training bytes; None = one pass. Smaller than the stream: blocks spread evenly over it.
    token_budget: int | None = None
    #: steps between evaluations; 0 = about ``eval_points`` evaluations over the run.
    eval_every: int = 0
    eval_points: int = 10
    #: bytes taken from the head of each evaluation set (bounds evaluation cost).
    eval_max_bytes: int = 16_384
    eval_batch: int = 32
    seed: int = 0
    device: str = "auto"
    threads: int = 1
    spike_k: float = 3.0
    #: steps in the running median that spikes and boundary ratios compare against.
    median_window: int = 20
    #: steps after a boundary searched for the gradient-norm peak.
    boundary_horizon: int = 3
    separator: int = data.SEPARATOR

    def __post_init__(self) -> None:
        checks = {
            "batch_size": self.batch_size >= 1,
            "lr": self.lr > 0,
            "warmup_frac": 0 <= self.warmup_frac < 1,
            "min_lr_frac": 0 <= self.min_lr_frac <= 1,
            "grad_clip": self.grad_clip > 0,
            "eval_every": self.eval_every >= 0,
            "eval_points": self.eval_points >= 1,
            "eval_max_bytes": self.eval_max_bytes > 0,
            "threads": self.threads >= 1,
            "median_window": self.median_window >= 1,
            "boundary_horizon": self.boundary_horizon >= 1,
            "token_budget": self.token_budget is None or self.token_budget > 0,
            "device": self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:"),
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"invalid ProbeConfig field(s): {bad}")
        self.model_config()  # validates the model shape

    def model_config(self) -> GPTConfig:
        return GPTConfig(self.n_layer, self.n_head, self.d_model, self.context)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ProbeConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass
class ProbeResult:
    """What one probe run measured; JSON-able through :meth:`to_dict`."""

    method: str
    seed: int
    config: dict
    n_params: int
    steps: int
    tokens: int
    stream_bytes: int
    train_loss: list[float]  # bits/byte per step
    grad_norm: list[float]  # total norm before clipping, per step
    lr: list[float]
    eval_steps: list[int]  # steps completed when each evaluation ran (0 = initial model)
    eval_loss: dict[str, list[float]]  # bits/byte per eval set, aligned with eval_steps
    final_eval: dict[str, float]
    eval_bytes: dict[str, int]
    step_scores: list[float] | None  # byte-weighted mean score per step, if shards have one
    boundary_steps: list[int]
    boundary_ratios: list[float | None]  # None where the step is out of range
    spike_count: int
    tokens_per_s: float  # training steps only
    train_s: float
    wall_s: float  # everything, including reading and evaluation
    device: str
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ProbeResult":
        names = {f.name for f in fields(cls)}
        missing = names - set(d) - {"extra"}
        if missing:
            raise ValueError(f"ProbeResult dict lacks field(s): {sorted(missing)}")
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass(frozen=True)
class ProbeJob:
    """One run for :func:`run_probes`; ``seed`` overrides ``config.seed``."""

    method: str
    seed: int
    shards: list[str]
    eval_sets: dict[str, list[str]]
    config: ProbeConfig = ProbeConfig()
    boundary_steps: list[int] | None = None


# ----------------------------------------------------------------------------- pieces


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def lr_schedule(steps: int, cfg: ProbeConfig) -> np.ndarray:
    """Linear warmup, then cosine decay to ``min_lr_frac * lr``."""
    s = np.arange(steps, dtype=np.float64)
    warm = max(1, int(round(cfg.warmup_frac * steps)))
    progress = np.clip((s - warm) / max(1, steps - warm), 0.0, 1.0)
    cosine = cfg.min_lr_frac + (1 - cfg.min_lr_frac) * 0.5 * (1 + np.cos(math.pi * progress))
    return cfg.lr * np.where(s < warm, (s + 1) / warm, cosine)


def make_optimizer(model: GPT, cfg: ProbeConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only (not on norms and biases)."""
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [
        {"params": decay, "weight_decay": cfg.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))


def eval_schedule(steps: int, cfg: ProbeConfig) -> list[int]:
    """Steps completed at each evaluation: 0, every ``eval_every``, and always the end."""
    every = cfg.eval_every or max(1, steps // cfg.eval_points)
    return sorted({0, *range(every, steps, every), steps})


@torch.no_grad()
def evaluate(model: GPT, windows: tuple[torch.Tensor, torch.Tensor], batch: int) -> float:
    """Mean next-byte loss of an evaluation set in bits per byte."""
    x, y = windows
    was_training = model.training
    model.eval()
    total = 0.0
    for i in range(0, x.shape[0], batch):
        logits, _ = model(x[i : i + batch])
        total += torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.size(-1)), y[i : i + batch].reshape(-1), reduction="sum"
        ).item()
    model.train(was_training)
    return total / (x.numel() * LN2)


def running_median_before(values: np.ndarray, window: int) -> np.ndarray:
    """Median of the ``window`` values before each index (NaN where fewer exist)."""
    out = np.full(values.size, np.nan)
    if values.size > window:
        views = np.lib.stride_tricks.sliding_window_view(values, window)[:-1]
        out[window:] = np.median(views, axis=1)
    return out


def count_spikes(grad_norm: np.ndarray, k: float, window: int, skip: int) -> int:
    """Steps (after ``skip`` warmup steps) whose norm exceeds k x the running median."""
    med = running_median_before(grad_norm, window)
    hit = grad_norm > k * med
    hit[: max(skip, window)] = False
    return int(np.count_nonzero(hit))


def boundary_ratios(
    grad_norm: np.ndarray, steps: list[int], window: int, horizon: int
) -> list[float | None]:
    """Peak norm in ``[b, b + horizon)`` over the median of the ``window`` steps before ``b``."""
    out: list[float | None] = []
    for b in steps:
        if b < 1 or b >= grad_norm.size:
            out.append(None)
            continue
        base = float(np.median(grad_norm[max(0, b - window) : b]))
        out.append(float(grad_norm[b : b + horizon].max() / base) if base > 0 else None)
    return out


def _load_eval_sets(
    eval_sets: dict[str, list[str]], cfg: ProbeConfig, device: torch.device
) -> tuple[dict, dict[str, int]]:
    windows, sizes = {}, {}
    for name, uris in eval_sets.items():
        raw = data.read_eval_bytes(list(uris), cfg.eval_max_bytes, cfg.separator)
        x, y = data.eval_windows(raw, cfg.context)
        windows[name] = (
            torch.from_numpy(x.astype(np.int64)).to(device),
            torch.from_numpy(y.astype(np.int64)).to(device),
        )
        sizes[name] = int(x.size)
    return windows, sizes


# ----------------------------------------------------------------------------- entry points


def train_probe(
    shards: list[str],
    eval_sets: dict[str, list[str]],
    config: ProbeConfig,
    boundary_steps: list[int] | None = None,
    method: str = "",
) -> ProbeResult:
    """Train one probe on ``shards`` read in order; see the module docstring."""
    wall0 = time.perf_counter()
    cfg = config
    shards = list(shards)
    device = pick_device(cfg.device)
    old_threads = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    try:
        data.check_shards(shards)
        plan = data.plan_batches(
            data.stream_size(shards), cfg.batch_size, cfg.context, cfg.token_budget
        )
        scores = data.step_scores(shards, plan)
        windows, eval_bytes = _load_eval_sets(eval_sets, cfg, device)
        model = GPT(cfg.model_config(), seed=cfg.seed).to(device)
        opt = make_optimizer(model, cfg)
        lrs = lr_schedule(plan.steps, cfg)
        evals_at = eval_schedule(plan.steps, cfg)
        curves: dict[str, list[float]] = {k: [] for k in windows}
        losses, norms, train_s = _train_loop(
            model, opt, shards, plan, lrs, windows, evals_at, curves, cfg, device
        )
    finally:
        torch.set_num_threads(old_threads)
    gn = norms.astype(np.float64)
    bsteps = [int(b) for b in (boundary_steps or [])]
    return ProbeResult(
        method=method,
        seed=cfg.seed,
        config=cfg.to_dict(),
        n_params=model.num_params(),
        steps=plan.steps,
        tokens=plan.tokens,
        stream_bytes=plan.stream_bytes,
        train_loss=(losses / LN2).tolist(),
        grad_norm=gn.tolist(),
        lr=lrs.tolist(),
        eval_steps=evals_at,
        eval_loss=curves,
        final_eval={k: v[-1] for k, v in curves.items()},
        eval_bytes=eval_bytes,
        step_scores=None if scores is None else scores.tolist(),
        boundary_steps=bsteps,
        boundary_ratios=boundary_ratios(gn, bsteps, cfg.median_window, cfg.boundary_horizon),
        spike_count=count_spikes(
            gn, cfg.spike_k, cfg.median_window, int(round(cfg.warmup_frac * plan.steps))
        ),
        tokens_per_s=plan.tokens / train_s if train_s > 0 else float("nan"),
        train_s=train_s,
        wall_s=time.perf_counter() - wall0,
        device=str(device),
    )


def _train_loop(
    model: GPT,
    opt: torch.optim.Optimizer,
    shards: list[str],
    plan: data.BatchPlan,
    lrs: np.ndarray,
    windows: dict,
    evals_at: list[int],
    curves: dict[str, list[float]],
    cfg: ProbeConfig,
    device: torch.device,
) -> tuple[np.ndarray, np.ndarray, float]:
    """The hot loop; returns per-step losses (nats), grad norms and training seconds."""
    losses = torch.empty(plan.steps)
    norms = torch.empty(plan.steps)
    params = [p for p in model.parameters() if p.requires_grad]
    n = cfg.batch_size * cfg.context
    pending = set(evals_at)
    train_s = 0.0

    def run_evals() -> None:
        for name, w in windows.items():
            curves[name].append(evaluate(model, w, cfg.eval_batch))

    run_evals()
    model.train()
    t0 = time.perf_counter()
    for step, block in enumerate(data.iter_blocks(shards, plan, cfg.separator)):
        t = torch.from_numpy(block.astype(np.int64)).to(device, non_blocking=True)
        x, y = (
            t[:n].view(cfg.batch_size, cfg.context),
            t[1 : n + 1].view(cfg.batch_size, cfg.context),
        )
        for group in opt.param_groups:
            group["lr"] = lrs[step]
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        norms[step] = torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip).detach().cpu()
        opt.step()
        losses[step] = loss.detach().cpu()
        if step + 1 in pending:
            train_s += time.perf_counter() - t0
            run_evals()
            t0 = time.perf_counter()
    return losses.numpy(), norms.numpy(), train_s


def steps_at_documents(shards: list[str], positions: list[int], config: ProbeConfig) -> list[int]:
    """Training step at which each document position (0-based, in stream order) is first
    trained on; the way to turn an ordering's boundaries into ``boundary_steps``."""
    lengths = np.concatenate(
        [data.doc_lengths(b) for b in data.iter_record_batches(list(shards), ["text"])]
    )
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    plan = data.plan_batches(
        int(offsets[-1]), config.batch_size, config.context, config.token_budget
    )
    pos = np.asarray(positions, dtype=np.int64)
    if pos.size and (pos.min() < 0 or pos.max() >= lengths.size):
        bad = pos[(pos < 0) | (pos >= lengths.size)][:10].tolist()
        raise data.ProbeDataError(f"document positions out of range 0..{lengths.size - 1}: {bad}")
    return plan.step_of_offset(offsets[pos]).tolist()


def _run_job(job: ProbeJob) -> ProbeResult:
    cfg = replace(job.config, seed=job.seed)
    return train_probe(job.shards, job.eval_sets, cfg, job.boundary_steps, method=job.method)


def _init_worker() -> None:
    torch.set_num_threads(1)


def run_probes(jobs: list[ProbeJob], workers: int = 2) -> list[ProbeResult]:
    """Run jobs in ``workers`` spawned 1-thread processes; results in job order."""
    if workers <= 1 or len(jobs) <= 1:
        return [_run_job(j) for j in jobs]
    ctx = get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=min(workers, len(jobs)), mp_context=ctx, initializer=_init_worker
    ) as pool:
        return list(pool.map(_run_job, jobs))
