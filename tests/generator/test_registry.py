"""AdapterRegistry glue: validation against a described base model, per-name serialisation, and
unload waiting for in-flight generations. The engine here only records calls; the same paths run
against real engines in test_service.py (tiny model) and test_real_model.py (slow)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from codeeval.generator.adapters import AdapterRegistry, inspect_adapter
from codeeval.generator.engine import BaseModelInfo, Completion, Engine, Sampling
from codeeval.kit.errors import FailedPrecondition, NotFound, ResourceExhausted

BASE = BaseModelInfo(engine="test", engine_version="0", model="smollm2-135m-instruct",
                     model_path="/models/smollm2-135m-instruct", model_sha256="f" * 64, dtype="bfloat16",
                     max_model_len=2048, max_loras=2, max_lora_rank=16, max_adapters=2,
                     linear_modules=frozenset(f"model.layers.{i}.self_attn.{p}_proj" for i in range(2)
                                              for p in "qkvo"))


class RecordingEngine(Engine):
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    async def start(self) -> BaseModelInfo:
        return BASE

    async def stop(self) -> None: ...

    async def add_adapter(self, name: str, path: str) -> None:
        self.calls.append(("add", name))
        await asyncio.sleep(0.01)

    async def remove_adapter(self, name: str) -> None:
        self.calls.append(("remove", name))

    async def generate(self, prompt: str, sampling: Sampling, adapter: str | None) -> Completion:
        raise AssertionError("not used")

    def count_tokens(self, text: str) -> int:
        return len(text)


def adapter(root: Path, name: str, meta: dict | None = None, **cfg: object) -> Path:
    d = root / name
    d.mkdir()
    conf = {"peft_type": "LORA", "r": 8, "lora_alpha": 16, "target_modules": ["q_proj", "v_proj"],
            "base_model_name_or_path": "HuggingFaceTB/SmolLM2-135M-Instruct", **cfg}
    (d / "adapter_config.json").write_text(json.dumps(conf))
    (d / "adapter_model.safetensors").write_bytes(b"\x02" + b"\x00" * 7 + b"{}")  # a valid, empty safetensors file
    if meta is not None:
        (d / "codeeval_adapter.json").write_text(json.dumps(meta))
    return d


def test_inspect_accepts_and_describes(tmp_path: Path) -> None:
    info = inspect_adapter(adapter(tmp_path, "ok", {"template": "smollm2", "template_sha256": "x"}), BASE)
    assert info["rank"] == 8 and info["template"] == "smollm2" and info["alpha"] == 16.0
    assert inspect_adapter(adapter(tmp_path, "re", target_modules=r".*\.q_proj"), BASE)["rank"] == 8


@pytest.mark.parametrize(("cfg", "meta", "needle"), [
    ({"r": 32}, None, "max_lora_rank 16"),
    ({"target_modules": ["gate_proj"]}, None, "gate_proj"),
    ({"target_modules": r".*\.mlp\..*"}, None, "matches no module"),
    ({"base_model_name_or_path": "Qwen/Qwen2.5-0.5B"}, None, "Qwen/Qwen2.5-0.5B"),
    ({}, {"base_model_sha256": "0" * 64}, "sha256"),
    ({"peft_type": "PREFIX_TUNING"}, None, "LORA"),
])
def test_inspect_rejects(tmp_path: Path, cfg: dict, meta: dict | None, needle: str) -> None:
    with pytest.raises(FailedPrecondition, match=needle):
        inspect_adapter(adapter(tmp_path, "bad", meta, **cfg), BASE)


def test_inspect_missing_folder_and_weights(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        inspect_adapter(tmp_path / "nope", BASE)
    d = adapter(tmp_path, "noweights")
    (d / "adapter_model.safetensors").unlink()
    with pytest.raises(FailedPrecondition, match="adapter_model"):
        inspect_adapter(d, BASE)


async def test_unload_waits_for_in_flight_and_new_use_is_not_found(tmp_path: Path) -> None:
    engine = RecordingEngine()
    reg = AdapterRegistry(engine, BASE)
    await reg.load("a", str(adapter(tmp_path, "a")))
    entered, release = asyncio.Event(), asyncio.Event()

    async def generation() -> None:
        async with reg.use("a"):
            entered.set()
            await release.wait()

    running = asyncio.create_task(generation())
    await entered.wait()
    unloading = asyncio.create_task(reg.unload("a"))
    await asyncio.sleep(0.02)
    assert ("remove", "a") not in engine.calls and not unloading.done()
    with pytest.raises(NotFound):
        async with reg.use("a"):
            pass
    release.set()
    await asyncio.wait_for(asyncio.gather(running, unloading), 5)
    assert engine.calls == [("add", "a"), ("remove", "a")]


async def test_same_name_is_serialised_and_capacity_enforced(tmp_path: Path) -> None:
    engine = RecordingEngine()
    reg = AdapterRegistry(engine, BASE)
    a, b = adapter(tmp_path, "a"), adapter(tmp_path, "b")
    await asyncio.gather(reg.load("x", str(a)), reg.load("x", str(b), replace=True))
    assert engine.calls == [("add", "x"), ("remove", "x"), ("add", "x")]
    await reg.load("y", str(a))
    with pytest.raises(ResourceExhausted, match="max_cpu_loras 2"):
        await reg.load("z", str(a))
