"""A small real-text-like corpus and tiny probe settings, so each test runs in seconds."""

import numpy as np
import pyarrow as pa
import pytest

from curation.probe.config import preset

TINY = preset(
    "demo",
    n_layer=1,
    n_head=2,
    d_model=16,
    context=16,
    batch_size=4,
    token_budget=64 * 30,
    eval_points=3,
    eval_max_tokens=512,
    seeds=2,
    median_window=3,
    boundary_horizon=1,
)


def docs(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    words = np.array(["data", "order", "probe", "the", "of", "zébra", "x", "curriculum"])
    return [" ".join(rng.choice(words, int(k))) for k in rng.integers(1, 15, n)]


@pytest.fixture
def corpus() -> tuple[pa.Table, np.ndarray]:
    texts = docs(400, 0)
    table = pa.table({"id": [f"doc-{i:04d}" for i in range(len(texts))], "text": texts})
    scores = np.array([len(t) for t in texts], float) + np.linspace(0, 0.5, len(texts))
    return table, scores
