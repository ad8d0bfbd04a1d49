"""A PEFT LoRA adapter trained by TRL's ``SFTTrainer`` (an adapter from elsewhere: no codeeval
metadata beside it), shared by the tests that load it into the generator and bench it.

Conversational rows, so TRL formats them with the model's own chat template; a few steps on CPU.
Trained once per machine and kept beside the model cache, keyed by everything that determines it
(the base model's weights sha256, the recipe, the TRL/PEFT/transformers versions): a fresh machine
or a new TRL trains it again. Cost: about a minute of CPU per training (several on a busy host).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from importlib import metadata
from pathlib import Path

import pytest

ROWS, STEPS, BATCH, LR, MAX_LENGTH, RANK, ALPHA, SEED = 8, 3, 2, 1e-3, 128, 8, 16, 0
TARGETS = ["q_proj", "v_proj"]
#: Everything that determines the adapter besides the base model and the library versions.
RECIPE = {"rows": ROWS, "steps": STEPS, "batch": BATCH, "lr": LR, "max_length": MAX_LENGTH, "rank": RANK,
          "alpha": ALPHA, "targets": TARGETS, "seed": SEED, "v": 1}


def trl_rows() -> list[dict[str, list[dict[str, str]]]]:
    """The training rows: a user asks for a tiny Python function, the assistant answers in a fence."""
    return [{"messages": [{"role": "user", "content": f"Write a Python function number {i}."},
                          {"role": "assistant", "content": f"```python\ndef f{i}():\n    return {i}\n```"}]}
            for i in range(ROWS)]


def trl_adapter(base: Path) -> Path:
    """The TRL-trained adapter folder of ``base`` (trained now unless this machine has it); skips
    the calling test when TRL is not installed."""
    pytest.importorskip("trl", reason="TRL is not installed (pip install 'codeeval-trainer[bench]')")
    from codeeval.models import model_cache_dir, model_sha256

    versions = {pkg: metadata.version(pkg) for pkg in ("trl", "peft", "transformers")}
    key = hashlib.sha256(json.dumps({"base": model_sha256(base), "recipe": RECIPE, **versions},
                                    sort_keys=True).encode()).hexdigest()[:16]
    folder = model_cache_dir() / "test-adapters" / f"trl-{key}"
    if (folder / "adapter_config.json").exists():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=".trl-") as work:
        staged = train(base, Path(work))
        shutil.rmtree(folder, ignore_errors=True)
        staged.rename(folder)  # atomic: a concurrent test sees the whole adapter or none
    return folder


def train(base: Path, work: Path) -> Path:
    """Train the adapter with ``SFTTrainer`` in ``work``; the saved PEFT folder (``work/adapter``)."""
    from datasets import Dataset
    from peft import LoraConfig
    from trl import SFTConfig, SFTTrainer

    args = SFTConfig(output_dir=str(work / "run"), max_steps=STEPS, per_device_train_batch_size=BATCH,
                     learning_rate=LR, logging_steps=1, save_strategy="no", report_to=[], use_cpu=True,
                     dataloader_num_workers=0, max_length=MAX_LENGTH, seed=SEED)
    peft = LoraConfig(r=RANK, lora_alpha=ALPHA, target_modules=TARGETS, task_type="CAUSAL_LM")
    trainer = SFTTrainer(model=str(base), args=args, train_dataset=Dataset.from_list(trl_rows()), peft_config=peft)
    trainer.train()
    out = work / "adapter"
    trainer.model.save_pretrained(str(out))  # type: ignore[operator,union-attr]  # a PeftModel
    return out
