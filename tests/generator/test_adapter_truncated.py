"""A truncated or damaged adapter weights file is refused by LoadAdapter's validation with
FAILED_PRECONDITION naming the file (reading the safetensors header only), before any engine sees
it; a whole file passes. Real safetensors files (written by the safetensors library); the real
generator service refusing one is in tests/reliability/test_faults_real.py."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from codeeval.generator.adapters import inspect_adapter
from codeeval.kit.errors import FailedPrecondition

from .test_registry import BASE


def _adapter(root: Path) -> Path:
    root.mkdir()
    (root / "adapter_config.json").write_text(json.dumps(
        {"peft_type": "LORA", "r": 4, "lora_alpha": 8, "target_modules": ["q_proj", "v_proj"],
         "base_model_name_or_path": "HuggingFaceTB/SmolLM2-135M-Instruct"}))
    rng = np.random.default_rng(0)
    save_file({f"base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight":
               rng.standard_normal((4, 64)).astype(np.float32) for i in range(2)},
              str(root / "adapter_model.safetensors"))
    return root


@pytest.mark.parametrize("cut", ["half", "one byte", "header only", "empty", "extra bytes", "garbage header"])
def test_a_damaged_weights_file_is_refused_naming_it(tmp_path, cut):
    folder = _adapter(tmp_path / "a")
    weights = folder / "adapter_model.safetensors"
    data = weights.read_bytes()
    n = 8 + int.from_bytes(data[:8], "little")
    weights.write_bytes({"half": data[: len(data) // 2], "one byte": data[:-1], "header only": data[:n],
                         "empty": b"", "extra bytes": data + b"\0" * 16,
                         "garbage header": data[:8] + b"\xff" * (n - 8) + data[n:]}[cut])
    with pytest.raises(FailedPrecondition, match=r"adapter_model\.safetensors .*truncated or damaged"):
        inspect_adapter(folder, BASE)


def test_a_whole_weights_file_passes(tmp_path):
    assert inspect_adapter(_adapter(tmp_path / "a"), BASE)["rank"] == 4
