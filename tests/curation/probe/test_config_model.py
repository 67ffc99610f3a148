"""The one probe config, its presets, and the model's seed-only initialisation."""

import pytest
import torch

from curation.probe.config import PRESETS, ProbeConfig, preset
from curation.probe.model import GPT
from tests.curation.probe.conftest import TINY


def test_presets_are_valid_and_distinct():
    assert set(PRESETS) == {"demo", "verdict", "gpu"}
    v = PRESETS["verdict"]
    assert (v.n_layer, v.d_model, v.context, v.batch_size, v.seeds) == (4, 96, 256, 16, 3)
    assert v.token_budget is None and v.tokenizer == "bytes"  # one pass over bytes
    g = PRESETS["gpu"]
    assert g.precision == "bf16" and g.compile and g.grad_accum > 1 and g.checkpoint_every > 0
    assert g.tokenizer.startswith("tiktoken:")
    assert 0.45e6 < GPT(v, 256).num_params() < 0.55e6  # the design's 0.5M-parameter model


def test_config_round_trips_and_rejects_typos():
    assert ProbeConfig.from_dict(TINY.to_dict()) == TINY
    with pytest.raises(ValueError, match="n_layers"):
        ProbeConfig.from_dict({"n_layers": 2})
    with pytest.raises(ValueError, match="d_model"):
        ProbeConfig(d_model=95, n_head=4)
    with pytest.raises(ValueError, match="precision"):
        ProbeConfig(precision="fp8")
    with pytest.raises(ValueError, match="unknown probe preset"):
        preset("huge")
    assert preset("demo", seeds=5).seeds == 5


def test_initial_weights_depend_on_the_seed_only():
    torch.manual_seed(123)
    a = GPT(TINY, 256, seed=7)
    torch.manual_seed(999)
    b = GPT(TINY, 256, seed=7)
    c = GPT(TINY, 256, seed=8)
    for p, q in zip(a.state_dict().values(), b.state_dict().values(), strict=True):
        assert torch.equal(p, q)
    assert not torch.equal(a.wte.weight, c.wte.weight)


def test_one_init_rule_covers_every_residual_projection():
    cfg = preset("verdict", n_layer=8)
    model = GPT(cfg, 256, seed=0)
    proj = {n: p for n, p in model.named_parameters() if n.endswith("c_proj.weight")}
    assert len(proj) == 2 * cfg.n_layer  # attention and MLP of every block
    want = 0.02 / (2 * cfg.n_layer) ** 0.5
    for p in proj.values():
        assert p.std().item() == pytest.approx(want, rel=0.1)
    assert model.h[0].mlp.c_fc.weight.std().item() == pytest.approx(0.02, rel=0.1)
    assert torch.all(model.h[0].ln_1.weight == 1) and torch.all(model.h[0].ln_1.bias == 0)
    assert model.lm_head.weight is model.wte.weight
