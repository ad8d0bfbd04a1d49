"""The trainer's memory measures on a tiny random Llama and in real subprocesses: the loss from the
labelled positions' logits only equals the model's own loss (value and gradients, dropout on), the
run's phases are reported in order, freed heap pages go back to the kernel, and per-phase peaks reset."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Literal

import pytest
import torch

from codeeval.trainer import modeling
from codeeval.trainer.data import IGNORE, Features, collate
from codeeval.trainer.memory import PhasePeaks
from codeeval.trainer.recipe import Recipe
from codeeval.trainer.recipe_schema import load_config

pytest.importorskip("peft")


def _recipe(tiny_model: Path, workdir: Path, method: Literal["lora", "qlora"] = "lora", **extra: str) -> Recipe:
    cfg = load_config("tiny-multitask-lora", {"model.base": str(tiny_model), "train.max_steps": "2",
                                              "train.eval_every": "0", **extra})
    cfg.method.kind = method
    cfg.method.lora.dropout = 0.1
    return Recipe(cfg, workdir)


def _batch() -> dict[str, torch.Tensor]:
    """Two rows of different lengths whose completions start at different positions (and padding)."""
    rows = [Features("t", list(range(5, 25)), [IGNORE] * 12 + list(range(17, 25))),
            Features("t", list(range(30, 44)), [IGNORE] * 5 + list(range(35, 44)))]
    return collate(rows, pad_id=0)


@pytest.mark.parametrize("method", ["lora", "qlora"])
def test_loss_from_kept_logits_matches_the_models_own_loss(tiny_model: Path, tmp_path: Path,
                                                           method: Literal["lora", "qlora"]) -> None:
    recipe = _recipe(tiny_model, tmp_path, method)
    recipe.setup()
    try:
        model = recipe.model
        assert recipe.keep_logits and modeling.keeps_logits(model)
        model.train()
        grads = []
        losses = []
        for keep in (False, True):
            torch.manual_seed(7)  # the same dropout draws on both paths
            loss = modeling.lm_loss(model, _batch(), keep)
            loss.backward()
            losses.append(float(loss.detach()))
            grads.append([p.grad.clone() for p in model.parameters() if p.grad is not None])
            model.zero_grad(set_to_none=True)
        assert losses[0] == pytest.approx(losses[1], rel=1e-5)
        for full, kept in zip(*grads, strict=True):
            torch.testing.assert_close(kept, full, rtol=1e-4, atol=1e-6)
    finally:
        recipe.cleanup()


def test_all_labelled_batch_keeps_every_position_but_the_last(tiny_model: Path, tmp_path: Path) -> None:
    recipe = _recipe(tiny_model, tmp_path)
    recipe.setup()
    try:
        recipe.model.eval()
        batch = collate([Features("t", list(range(3, 19)), list(range(3, 19)))], pad_id=0)
        with torch.no_grad():
            own = float(recipe.model(**batch).loss)
            kept = float(modeling.lm_loss(recipe.model, batch, True))
        assert kept == pytest.approx(own, rel=1e-5)
    finally:
        recipe.cleanup()


def test_phases_are_reported_in_order(tiny_model: Path, tmp_path: Path) -> None:
    seen: list[str] = []
    recipe = Recipe(_recipe(tiny_model, tmp_path).cfg, tmp_path, on_phase=seen.append)
    recipe.setup()
    try:
        assert recipe.train() == "completed"
    finally:
        recipe.cleanup()
    assert seen == ["load", "adapter", "data", "optimizer", "first step", "steps"]
    progress = [e for e in map(json.loads, (tmp_path / "events.jsonl").read_text().splitlines())
                if e["kind"] == "progress"]
    assert len(progress) == 2
    for event in progress:  # each step's split: forward, backward, optimizer seconds
        assert set(event["seconds"]) == {"forward", "backward", "optimizer"}
        assert event["seconds"]["forward"] > 0 and event["seconds"]["backward"] > 0
        assert event["seconds"]["optimizer"] >= 0


def _python(code: str, **env: str) -> str:
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                            env={**os.environ, **env}, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


_FREED_HEAP = """
    import ctypes, re
    from codeeval.trainer.memory import trim_heap

    def rss():
        return int(re.search(r"VmRSS:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1)) << 10

    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    blocks = [libc.malloc(64 << 10) for _ in range(1024)]  # 64 MiB of heap blocks, below the mmap threshold
    for b in blocks:
        ctypes.memset(b, 1, 64 << 10)  # resident
    for b in blocks[:-1]:
        libc.free(b)  # freed below a live block: glibc keeps the pages
    before = rss()
    released = trim_heap() if {trim} else False
    print(released, before - rss() >= 48 << 20)
"""


def test_trim_heap_gives_freed_heap_pages_back() -> None:
    if not hasattr(__import__("ctypes").CDLL(None), "gnu_get_libc_version"):
        pytest.skip("not glibc: trim_heap is a no-op there")
    assert _python(_FREED_HEAP.format(trim=False)) == "False False"  # glibc alone keeps them resident
    assert _python(_FREED_HEAP.format(trim=True)) == "True True"


def test_phase_peaks_reset_between_phases() -> None:
    out = _python("""
        import torch
        from codeeval.trainer.memory import PhasePeaks
        if torch.cuda.is_available():
            raise SystemExit("cuda")
        peaks = PhasePeaks()
        peaks.mark("before")
        big = b"x" * (256 << 20)  # every page written: resident
        del big
        peaks.mark("big")
        peaks.mark("after")
        phases = dict(peaks.phases)
        print(peaks.cumulative, phases["big"] - phases["before"] >= 200 << 20,
              phases["after"] < phases["big"] - (200 << 20), peaks.peak == phases["big"])
    """)
    if out == "cuda":
        pytest.skip("on a GPU PhasePeaks measures CUDA allocations")
    if out.startswith("True"):
        pytest.skip("/proc/self/clear_refs is not writable here: phases are cumulative")
    assert out == "False True True True"
    assert PhasePeaks().phases == []


def test_evaluation_leaves_4bit_weights_in_the_training_layout(tiny_model: Path, tmp_path: Path) -> None:
    recipe = _recipe(tiny_model, tmp_path, "qlora")
    recipe.setup()
    try:
        bnb = pytest.importorskip("bitsandbytes")
        layers: list[Any] = [m for m in recipe.model.modules() if isinstance(m, bnb.nn.Linear4bit)]
        assert layers and not any(m.support_avx512bf16_for_cpu for m in layers)
        recipe.model.eval()
        with torch.no_grad():
            modeling.lm_loss(recipe.model, _batch(), True)
        recipe.model.train()
        assert not any(getattr(m.weight.quant_state, "packing_format_for_cpu", False) for m in layers)
        torch.manual_seed(7)
        modeling.lm_loss(recipe.model, _batch(), True).backward()
        assert all(p.grad is not None for n, p in recipe.model.named_parameters() if "lora_A" in n)
    finally:
        recipe.cleanup()
