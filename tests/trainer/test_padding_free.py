"""Padding-free batches (``data.padding_free``): one row of the batch's examples back to back gives the
padded batch's loss and gradients on a real (tiny, random) Llama, LoRA and QLoRA, and a model whose mask
ignores ``position_ids`` is refused at setup with the field named."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pytest
import torch

from codeeval.kit.errors import FailedPrecondition
from codeeval.trainer import modeling
from codeeval.trainer.data import IGNORE, Features, batch_tokens, collate, collate_flat
from codeeval.trainer.recipe import Recipe
from codeeval.trainer.recipe_schema import load_config

pytest.importorskip("peft")

ROWS = [Features("t", list(range(5, 25)), [IGNORE] * 12 + list(range(17, 25))),
        Features("t", list(range(30, 44)), [IGNORE] * 5 + list(range(35, 44))),
        Features("t", list(range(50, 60)), list(range(50, 60)))]  # all labelled: its first token is not


def test_collate_flat_layout() -> None:
    flat = collate_flat(ROWS)
    assert set(flat) == {"input_ids", "position_ids", "labels"}
    assert flat["input_ids"].shape == (1, 44) and batch_tokens(flat) == 44 == batch_tokens(collate(ROWS, 0))
    assert flat["position_ids"][0].tolist() == list(range(20)) + list(range(14)) + list(range(10))
    labels = flat["labels"][0].tolist()
    assert labels[34] == IGNORE and labels[35:] == list(range(51, 60))  # no label across the boundary
    assert sum(x != IGNORE for x in labels) == sum(x != IGNORE for x in collate(ROWS, 0)["labels"][:, 1:].flatten())


def _recipe(tiny_model: Path, workdir: Path, method: Literal["lora", "qlora"], padding_free: bool) -> Recipe:
    cfg = load_config("tiny-multitask-lora", {"model.base": str(tiny_model), "train.max_steps": "1",
                                              "train.eval_every": "0", "data.padding_free": str(padding_free)})
    cfg.method.kind = method
    cfg.method.lora.dropout = 0.0  # the same function on both paths (dropout draws differ with the layout)
    return Recipe(cfg, workdir)


@pytest.mark.parametrize("method", ["lora", "qlora"])
def test_flat_batch_has_the_padded_batchs_loss_and_gradients(tiny_model: Path, tmp_path: Path,
                                                             method: Literal["lora", "qlora"]) -> None:
    recipe = _recipe(tiny_model, tmp_path, method, padding_free=True)
    recipe.setup()  # runs modeling.check_padding_free
    try:
        model = recipe.model
        model.train()
        results = []
        for batch in (collate(ROWS, pad_id=0), collate_flat(ROWS)):
            for keep in (True, False):  # the kept-logits loss and the model's own
                loss = modeling.lm_loss(model, batch, keep)
                loss.backward()
                results.append((float(loss.detach()), [p.grad.clone() for p in model.parameters()
                                                        if p.grad is not None]))
                model.zero_grad(set_to_none=True)
        padded, padded_grads = results[0]
        rtol, atol = (1e-4, 1e-6) if method == "lora" else (2e-2, 1e-4)  # QLoRA computes in bf16
        for value, grads in results[1:]:
            assert value == pytest.approx(padded, rel=rtol)
            assert len(grads) == len(padded_grads) > 0
            for got, want in zip(grads, padded_grads, strict=True):
                torch.testing.assert_close(got, want, rtol=rtol, atol=atol)
    finally:
        recipe.cleanup()


class _IgnoresPositions(torch.nn.Module):
    """The tiny Llama called without ``position_ids``: one causal mask over the whole row."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, position_ids: torch.Tensor | None = None, **kw: object) -> object:
        return self.model(input_ids=input_ids, **kw)


def test_a_model_that_attends_across_examples_is_refused(tiny_model: Path, tmp_path: Path) -> None:
    recipe = _recipe(tiny_model, tmp_path, "lora", padding_free=False)
    recipe.setup()
    try:
        modeling.check_padding_free(recipe.model)  # the real model keeps attention per example
        wrapped = _IgnoresPositions(recipe.model)
        with pytest.raises(FailedPrecondition, match="data.padding_free") as err:
            modeling.check_padding_free(wrapped)
        assert err.value.field == "data.padding_free"
        assert recipe.model.training  # the mode is restored
    finally:
        recipe.cleanup()
