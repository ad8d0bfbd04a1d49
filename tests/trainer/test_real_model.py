"""Real training on CPU with the real default model (SmolLM2-135M-Instruct): QLoRA and LoRA lower
the held-out loss in a few steps; the multi-task mixture is what was logged; SIGKILL-and-resume of
a LoRA run ends at the uninterrupted loss (QLoRA resume is the same code path, tested on the tiny model)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from codeeval.trainer.artifacts import METADATA_FILE
from codeeval.trainer.recipe import Recipe
from codeeval.trainer.recipe_schema import load_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def default_model() -> str:
    models = pytest.importorskip("codeeval.models")
    return str(models.prepare_default_model())


def _short(**extra: str) -> dict[str, str]:
    return {"train.max_steps": "4", "train.checkpoint_every": "100", "train.eval_every": "0",
            "train.warmup_steps": "0", "train.learning_rate": "1e-3", "data.max_length": "96",
            "data.tasks.0.source.limit": "12", "data.tasks.1.source.limit": "12", "data.tasks.2.source.limit": "12",
            **extra}


@pytest.mark.parametrize("config", ["smollm2-multitask-qlora-cpu", "smollm2-multitask-lora-cpu"])
def test_few_steps_lower_heldout_loss(config: str, default_model: str, tmp_path: Path) -> None:
    recipe = Recipe(load_config(config, _short()), tmp_path)
    recipe.setup()
    try:
        if config.endswith("qlora-cpu"):
            assert any("4bit" in type(m).__name__ for m in recipe.model.modules())
        before = recipe.evaluate()["eval_loss"]
        assert recipe.train() == "completed"
        after = recipe.evaluate()["eval_loss"]
        result = recipe.save("completed")
    finally:
        recipe.cleanup()
    assert after < before
    meta = json.loads((Path(result["artifact"]["path"]) / METADATA_FILE).read_text())
    assert meta["method"] == config.split("-")[2] and meta["template"] == "smollm2"
    assert meta["cost"]["trainable_parameters"] > 0


def test_multitask_mixture_is_logged_and_trained(default_model: str, tmp_path: Path) -> None:
    cfg = load_config("smollm2-multitask-lora-cpu", _short(**{"data.mixing.strategy": "temperature",
                                                             "data.mixing.temperature": "1000",
                                                             "data.tasks.1.source.limit": "4",
                                                             "train.max_steps": "1"}))
    recipe = Recipe(cfg, tmp_path)
    recipe.setup()
    recipe.cleanup()
    counts = {c.task: c for c in recipe.mixture}
    assert counts["summarize-java"].available < counts["translate-java-cs"].available
    effective = [c.effective for c in counts.values()]
    assert max(effective) - min(effective) <= 1, "T -> infinity is equal mixing"
    trained = {t: sum(1 for f in recipe.train_set if f.task == t) for t in counts}
    assert trained == {t: c.effective for t, c in counts.items()}
    logged = [json.loads(x) for x in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert [e for e in logged if e["kind"] == "mixture"][0]["counts"] == [c.__dict__ for c in recipe.mixture]


def _recipe_cmd(workdir: Path, **extra: str) -> list[str]:
    sets = {**_short(**{"train.max_steps": "6", "train.checkpoint_every": "3"}), **extra}
    cmd = [sys.executable, "-m", "codeeval.trainer.recipe", "--config", "smollm2-multitask-lora-cpu",
           "--workdir", str(workdir)]
    for k, v in sets.items():
        cmd += ["--set", f"{k}={v}"]
    return cmd


def test_lora_sigkill_and_resume_matches_uninterrupted(default_model: str, tmp_path: Path) -> None:
    subprocess.run(_recipe_cmd(tmp_path / "straight"), check=True, capture_output=True, timeout=600)
    proc = subprocess.Popen(_recipe_cmd(tmp_path / "killed"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    events = tmp_path / "killed" / "events.jsonl"
    deadline = time.monotonic() + 600
    while not (events.exists() and "checkpoint saved at step 3" in events.read_text()):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    subprocess.run(_recipe_cmd(tmp_path / "killed"), check=True, capture_output=True, timeout=600)
    a = json.loads((tmp_path / "straight" / "result.json").read_text())
    b = json.loads((tmp_path / "killed" / "result.json").read_text())
    assert b["resumed_from_step"] == 3
    assert b["metrics"]["train_loss"] == pytest.approx(a["metrics"]["train_loss"], rel=1e-3)
    assert b["metrics"]["eval_loss"] == pytest.approx(a["metrics"]["eval_loss"], rel=1e-3)
