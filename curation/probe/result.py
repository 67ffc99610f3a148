"""What one probe run measured, JSON-able, so runs can finish in separate processes and
be gathered later."""

from dataclasses import MISSING, asdict, dataclass, field, fields


@dataclass
class ProbeResult:
    """One (recipe, seed) run. Losses are bits per token (per byte in byte mode)."""

    recipe: str
    seed: int
    config: dict
    n_params: int
    steps: int
    tokens: int
    stream_tokens: int
    train_loss: list[float]  # per step
    grad_norm: list[float]  # total norm before clipping, per step
    eval_steps: list[int]  # steps completed at each evaluation (0 = initial model)
    eval_loss: dict[str, list[float]]  # per evaluation set, aligned with eval_steps
    eval_tokens: dict[str, int]
    step_scores: list[float] | None  # token-weighted mean score per step
    boundary_steps: dict[str, list[int]]  # ordering boundaries by kind, at most one a step
    diagnostics: dict
    tokens_per_s: float
    train_s: float
    wall_s: float
    device: str
    resumed_from: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def final_eval(self) -> dict[str, float]:
        return {k: v[-1] for k, v in self.eval_loss.items() if v}

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ProbeResult":
        names = {f.name for f in fields(cls)}
        required = {
            f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING
        }
        missing = required - set(d)
        if missing:
            raise ValueError(f"probe result lacks field(s): {sorted(missing)}")
        return cls(**{k: v for k, v in d.items() if k in names})
