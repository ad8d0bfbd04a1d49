"""The unchanged recipe under torchrun: two CPU processes on gloo, DDP for LoRA and FSDP for full
fine-tuning, with SIGKILL-and-resume (tiny Llama)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_recipe_under_torchrun_two_cpu_ranks(tiny_model: Path, tmp_path: Path) -> None:
    torchrun = Path(sys.executable).parent / "torchrun"
    cmd = [str(torchrun), "--standalone", "--nproc-per-node", "2", "-m", "codeeval.trainer.recipe",
           "--config", "tiny-multitask-lora", "--set", f"model.base={tiny_model}", "--workdir", str(tmp_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, "\n".join(x for x in proc.stderr.splitlines() if "Error" in x)[-3000:]
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


def _torchrun(tiny_model: Path, workdir: Path, *sets: str) -> list[str]:
    cmd = [str(Path(sys.executable).parent / "torchrun"), "--standalone", "--nproc-per-node", "2", "-m",
           "codeeval.trainer.recipe", "--config", "smollm2-multitask-full-cpu", "--workdir", str(workdir)]
    for item in (f"model.base={tiny_model}", "train.distributed=fsdp", "train.max_steps=6",
                 "train.checkpoint_every=3", "data.max_length=64", "train.learning_rate=1e-3", *sets):
        cmd += ["--set", item]
    return cmd


def test_fsdp_full_finetuning_resumes_after_sigkill(tiny_model: Path, tmp_path: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(_torchrun(tiny_model, tmp_path / "straight"), check=True, capture_output=True, timeout=300,
                   env=env)
    agent = subprocess.Popen(_torchrun(tiny_model, tmp_path / "killed", "train.min_step_seconds=1.5"),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    events = tmp_path / "killed" / "events.jsonl"
    deadline = time.monotonic() + 300
    while not (events.exists() and "checkpoint saved at step 3" in events.read_text()):
        assert agent.poll() is None and time.monotonic() < deadline
        time.sleep(0.2)
    ranks = subprocess.run(["ps", "-o", "pid=", "--ppid", str(agent.pid)], capture_output=True, text=True).stdout
    for pid in [int(p) for p in ranks.split()] + [agent.pid]:
        os.kill(pid, signal.SIGKILL)
    agent.wait()
    subprocess.run(_torchrun(tiny_model, tmp_path / "killed"), check=True, capture_output=True, timeout=300, env=env)
    a = json.loads((tmp_path / "straight" / "result.json").read_text())
    b = json.loads((tmp_path / "killed" / "result.json").read_text())
    assert a["artifact"]["kind"] == "full" and (Path(a["artifact"]["path"]) / "model.safetensors").exists()
    assert b["resumed_from_step"] == 3
    assert b["metrics"]["train_loss"] == pytest.approx(a["metrics"]["train_loss"], rel=1e-5)
    assert b["metrics"]["eval_loss"] == pytest.approx(a["metrics"]["eval_loss"], rel=1e-5)
