"""The one probe configuration (model shape, optimisation, data, evaluation, runtime) and
its presets.

Like nanoGPT's ``GPTConfig`` there is a single frozen object: the model, the training loop,
the caller that plans the runs and the report all read the same fields, so nothing is
copied field by field. Presets are starting points; :func:`preset` applies overrides.
"""

from dataclasses import asdict, dataclass, fields, replace

PRECISIONS = ("fp32", "bf16")


@dataclass(frozen=True)
class ProbeConfig:
    """Everything that decides a probe experiment; one run adds (recipe, seed)."""

    # model (a pre-norm GPT)
    n_layer: int = 4
    n_head: int = 4
    d_model: int = 96
    context: int = 256
    dropout: float = 0.0
    # optimisation: AdamW, linear warmup then cosine decay
    batch_size: int = 16
    grad_accum: int = 1
    lr: float = 3e-3
    warmup_frac: float = 0.05
    min_lr_frac: float = 0.1
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0
    # data: tokens trained on; None = one pass. Below the stream: steps spread evenly over it.
    token_budget: int | None = None
    #: a tokenizer spec (curation.tokens.tokenizer): "bytes", "tiktoken:/path", "hf:/path.json"
    tokenizer: str = "bytes"
    # experiment design
    seeds: int = 3
    heldout_fraction: float = 0.04
    extreme_fraction: float = 0.02
    # evaluation: about ``eval_points`` evaluations, each on at most ``eval_max_tokens``
    eval_points: int = 20
    eval_max_tokens: int = 16_384
    eval_batch: int = 32
    # diagnostics
    median_window: int = 20
    boundary_horizon: int = 3
    # runtime
    device: str = "auto"
    threads: int = 1
    precision: str = "fp32"
    compile: bool = False
    #: steps between checkpoints (0 = none); a rerun resumes from the newest one.
    checkpoint_every: int = 0
    #: steps between progress reports to the caller's callback.
    log_every: int = 50

    def __post_init__(self) -> None:
        checks = {
            "n_layer": self.n_layer >= 1,
            "n_head": self.n_head >= 1,
            "d_model": self.d_model >= 1 and self.d_model % max(self.n_head, 1) == 0,
            "context": self.context >= 2,
            "dropout": 0 <= self.dropout < 1,
            "batch_size": self.batch_size >= 1,
            "grad_accum": self.grad_accum >= 1,
            "lr": self.lr > 0,
            "warmup_frac": 0 <= self.warmup_frac < 1,
            "min_lr_frac": 0 <= self.min_lr_frac <= 1,
            "grad_clip": self.grad_clip > 0,
            "token_budget": self.token_budget is None or self.token_budget > 0,
            "seeds": self.seeds >= 1,
            "heldout_fraction": 0 < self.heldout_fraction < 0.5,
            "extreme_fraction": 0 < self.extreme_fraction < 0.1,
            "eval_points": self.eval_points >= 1,
            "eval_max_tokens": self.eval_max_tokens > self.context,
            "eval_batch": self.eval_batch >= 1,
            "median_window": self.median_window >= 1,
            "boundary_horizon": self.boundary_horizon >= 1,
            "device": self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:"),
            "threads": self.threads >= 1,
            "precision": self.precision in PRECISIONS,
            "checkpoint_every": self.checkpoint_every >= 0,
            "log_every": self.log_every >= 1,
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            shown = {k: getattr(self, k) for k in bad}
            raise ValueError(f"invalid probe config field(s): {shown}")

    @property
    def tokens_per_step(self) -> int:
        return self.batch_size * self.grad_accum * self.context

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ProbeConfig":
        """Strict: an unknown key is a typo in a recipe file, not something to drop."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown probe config key(s) {unknown}; known: {sorted(names)}")
        return cls(**d)


#: demo: minutes on 2 cores. verdict: the design's measured setting (0.5M parameters, one
#: pass over ~1.5 MB, 3 seeds; 5 recipes in <= 20 min on 2 cores). gpu: about an hour per
#: run on one modern GPU (GPT-2-small shape, BPE, bf16, compiled, 0.5M tokens a step).
PRESETS: dict[str, ProbeConfig] = {
    "demo": ProbeConfig(
        n_layer=2, d_model=64, context=128, token_budget=300_000, seeds=2, eval_points=10
    ),
    "verdict": ProbeConfig(),
    "gpu": ProbeConfig(
        n_layer=12,
        n_head=12,
        d_model=768,
        context=1024,
        batch_size=32,
        grad_accum=16,
        lr=6e-4,
        warmup_frac=0.02,
        token_budget=1_500_000_000,
        tokenizer="tiktoken:gpt2.tiktoken",  # a local file: override the path
        eval_points=40,
        eval_max_tokens=262_144,
        eval_batch=32,
        precision="bf16",
        compile=True,
        threads=8,
        checkpoint_every=200,
        log_every=10,
    ),
}


def preset(name: str, **overrides) -> ProbeConfig:
    """A named preset with ``overrides`` applied (validated like any config)."""
    if name not in PRESETS:
        raise ValueError(f"unknown probe preset {name!r}; choose one of {sorted(PRESETS)}")
    return replace(PRESETS[name], **overrides) if overrides else PRESETS[name]
