"""train.trim_heap: the recipe gives freed heap pages back after every step when it is true, not at all
when it is false, and not while the resident set stays under a threshold's growth (the speed-for-memory
trade in the trainer README); the real trim_heap runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from codeeval.trainer import memory
from codeeval.trainer.recipe import Recipe
from codeeval.trainer.recipe_schema import load_config

pytest.importorskip("peft")


@pytest.mark.parametrize(("trim", "calls"), [("true", 2), ("false", 0), ("1000000", 0)])
def test_trim_heap_after_each_step_only_when_set(tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 trim: str, calls: int) -> None:
    seen: list[bool] = []
    real = memory.trim_heap

    def spy() -> bool:
        seen.append(real())
        return seen[-1]

    monkeypatch.setattr(memory, "trim_heap", spy)
    cfg = load_config("tiny-multitask-lora", {"model.base": str(tiny_model), "train.max_steps": "2",
                                              "train.eval_every": "0", "train.trim_heap": trim})
    recipe = Recipe(cfg, tmp_path)
    recipe.setup()
    try:
        assert recipe.train() == "completed"
    finally:
        recipe.cleanup()
    assert len(seen) == calls
