"""The unchanged recipe under torchrun: two CPU processes, gloo, DDP (tiny Llama)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_recipe_under_torchrun_two_cpu_ranks(tiny_model: Path, tmp_path: Path) -> None:
    torchrun = Path(sys.executable).parent / "torchrun"
    cmd = [str(torchrun), "--standalone", "--nproc-per-node", "2", "-m", "codeeval.trainer.recipe",
           "--config", "tiny-multitask-lora", "--set", f"model.base={tiny_model}", "--workdir", str(tmp_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["outcome"] == "completed" and result["total_steps"] == 12
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    steps = [e["step"] for e in events if e["kind"] == "progress"]
    assert steps == list(range(1, 13)), "rank 0 alone writes events"
    ckpt = tmp_path / "checkpoints" / "step-000012"
    assert (ckpt / "rng-rank0.pt").exists() and (ckpt / "rng-rank1.pt").exists()
    assert (Path(result["artifact"]["path"]) / "adapter_model.safetensors").exists()
    losses = [e["loss"] for e in events if e["kind"] == "progress"]
    assert losses[-1] < losses[0]
