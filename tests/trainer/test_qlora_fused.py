"""The fused QLoRA layer (lora4bit) against PEFT's and bitsandbytes' own autograd on a real tiny Llama:
the same loss and gradients with dropout on (the same masks from the same seed), the same logits in
eval mode, PEFT's path where it does not apply, and the recipe's QLoRA model fused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from codeeval.trainer import modeling
from codeeval.trainer.data import IGNORE, Features, collate_flat
from codeeval.trainer.lora4bit import fuse_lora_4bit
from codeeval.trainer.recipe import Recipe
from codeeval.trainer.recipe_schema import load_config

pytest.importorskip("peft")
pytest.importorskip("bitsandbytes")

ROWS = [Features("t", list(range(5, 25)), [IGNORE] * 12 + list(range(17, 25))),
        Features("t", list(range(30, 44)), [IGNORE] * 5 + list(range(35, 44)))]


@pytest.fixture
def qlora(tiny_model: Path, tmp_path: Path) -> Any:
    cfg = load_config("tiny-multitask-lora", {"model.base": str(tiny_model), "train.max_steps": "1",
                                              "train.eval_every": "0", "method.lora.dropout": "0.1"})
    cfg.method.kind = "qlora"
    recipe = Recipe(cfg, tmp_path)
    recipe.setup()
    torch.manual_seed(1)
    for name, p in recipe.model.named_parameters():
        if "lora_B" in name:  # B starts at zero: make the LoRA branch (and A's gradient) non-trivial
            p.data.normal_(0.0, 0.1)
    yield recipe.model
    recipe.cleanup()


def _layers(model: torch.nn.Module) -> list[Any]:
    from peft.tuners.lora.bnb import Linear4bit

    return [m for m in model.modules() if isinstance(m, Linear4bit)]


def _unfuse(model: torch.nn.Module) -> None:
    for layer in _layers(model):
        del layer.forward  # back to the class's (PEFT's) forward


def _step(model: torch.nn.Module) -> tuple[float, dict[str, torch.Tensor]]:
    torch.manual_seed(5)  # the same dropout masks on both paths
    loss = modeling.lm_loss(model, collate_flat(ROWS), True)
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad(set_to_none=True)
    return float(loss.detach()), grads


def test_the_recipes_qlora_layers_are_fused(qlora: Any) -> None:
    layers = _layers(qlora)
    assert layers and all("forward" in vars(layer) for layer in layers)


def test_same_loss_and_gradients_as_peft_with_dropout(qlora: Any) -> None:
    qlora.train()
    fused_loss, fused = _step(qlora)
    _unfuse(qlora)
    peft_loss, peft = _step(qlora)
    assert fused_loss == pytest.approx(peft_loss, rel=1e-6)
    assert set(fused) == set(peft) and any("lora_A" in n for n in peft) and any("lora_B" in n for n in peft)
    for name, grad in peft.items():
        assert float(grad.abs().max()) > 0, name
        torch.testing.assert_close(fused[name], grad, rtol=1e-4, atol=1e-7)
    assert fuse_lora_4bit(qlora) == len(_layers(qlora))


def test_same_logits_in_eval_mode(qlora: Any) -> None:
    qlora.eval()
    inputs = {k: v for k, v in collate_flat(ROWS).items() if k != "labels"}
    with torch.no_grad():
        fused = qlora(**inputs).logits
        _unfuse(qlora)
        peft = qlora(**inputs).logits
    torch.testing.assert_close(fused, peft, rtol=1e-5, atol=1e-5)


def test_peft_path_where_fusing_does_not_apply(qlora: Any) -> None:
    qlora.eval()
    inputs = {k: v for k, v in collate_flat(ROWS).items() if k != "labels"}
    with torch.no_grad():
        with_adapter = qlora(**inputs).logits
        with qlora.disable_adapter():  # disabled adapters: PEFT's forward, the base alone
            base = qlora(**inputs).logits
        _unfuse(qlora)
        with qlora.disable_adapter():
            peft_base = qlora(**inputs).logits
    assert not torch.allclose(with_adapter, base, atol=1e-3)
    torch.testing.assert_close(base, peft_base, rtol=0, atol=0)
