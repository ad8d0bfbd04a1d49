"""IntDropout, the recipe's LoRA dropout: the keep rate and scaling of nn.Dropout, independent masks,
the gradient through the same mask, the identity in eval mode, and every PEFT LoRA dropout replaced."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from codeeval.trainer.dropout import IntDropout, replace_lora_dropout
from codeeval.trainer.recipe import Recipe
from codeeval.trainer.recipe_schema import load_config


@pytest.mark.parametrize("p", [0.1, 0.5])
def test_keep_rate_and_scale_match_the_distribution(p: float) -> None:
    torch.manual_seed(0)
    x = torch.ones(1000, 1000)
    y = IntDropout(p).train()(x)
    kept = y != 0
    assert y[kept].unique().tolist() == [pytest.approx(1 / (1 - p))]
    # 10**6 independent draws: the kept fraction is within 5 standard deviations of 1 - p
    assert abs(float(kept.float().mean()) - (1 - p)) < 5 * ((p * (1 - p)) / 1e6) ** 0.5
    assert float(y.mean()) == pytest.approx(1.0, abs=5e-3)  # inverted dropout keeps the expectation


def test_masks_are_independent_draws_and_follow_the_seed() -> None:
    drop = IntDropout(0.1).train()
    x = torch.ones(300, 200)
    torch.manual_seed(3)
    a, b = drop(x) != 0, drop(x) != 0
    both = float((a & b).float().mean())
    assert both == pytest.approx(0.81, abs=0.01) and not torch.equal(a, b)  # P(both kept) = 0.9 * 0.9
    torch.manual_seed(3)
    assert torch.equal(drop(x) != 0, a)  # reproducible from the global generator (checkpoints restore it)


def test_gradient_flows_through_the_same_mask() -> None:
    torch.manual_seed(1)
    x = torch.randn(64, 32, requires_grad=True)
    y = IntDropout(0.25).train()(x)
    y.backward(torch.full_like(y, 2.0))
    assert x.grad is not None
    torch.testing.assert_close(x.grad, torch.where(y != 0, 2.0 / 0.75, 0.0))


def test_identity_in_eval_mode_and_for_zero() -> None:
    x = torch.randn(8, 8)
    assert IntDropout(0.3).eval()(x) is x
    assert IntDropout(0.0).train()(x) is x
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        IntDropout(1.0)


def test_every_lora_layer_of_a_recipe_uses_it(tiny_model: Path, tmp_path: Path) -> None:
    pytest.importorskip("peft")
    cfg = load_config("tiny-multitask-lora", {"model.base": str(tiny_model), "train.max_steps": "1",
                                              "train.eval_every": "0", "method.lora.dropout": "0.1"})
    recipe = Recipe(cfg, tmp_path)
    recipe.setup()
    try:
        drops = [m for m in recipe.model.modules() if isinstance(m, IntDropout)]
        assert drops and all(d.p == 0.1 for d in drops)
        assert not any(type(m) is torch.nn.Dropout for m in recipe.model.modules())
        assert replace_lora_dropout(recipe.model) == 0  # nothing left to swap
        assert recipe.train() == "completed"
    finally:
        recipe.cleanup()
