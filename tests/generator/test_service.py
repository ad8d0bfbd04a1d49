"""GeneratorService over real gRPC on the tiny random Llama (transformers + PEFT engine):
streaming, determinism, per-request adapters in one concurrent batch, adapter lifecycle and the
status code of every bad input."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from codeeval.api.generator.v1 import generator_pb2 as pb
from codeeval.generator.server import create
from codeeval.kit.server import Runner
from codeeval.prompts import text_sha256

from .conftest import SMOLLM2_JINJA, tiny_settings

PROMPT = "def add(a, b):"


async def _generate(stub, prompts=(PROMPT,), **kw) -> list[pb.GenerateResponse]:  # type: ignore[no-untyped-def]
    sampling = pb.SamplingParams(max_tokens=kw.pop("max_tokens", 6), n=kw.pop("n", 1),
                                 temperature=kw.pop("temperature", 0.0), **kw.pop("sampling", {}))
    req = pb.GenerateRequest(prompts=[pb.Prompt(id=f"p{i}", text=t) for i, t in enumerate(prompts)],
                             sampling=sampling, **kw)
    return [r async for r in stub.Generate(req)]


async def _code(coro) -> grpc.StatusCode:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await coro
    return info.value.code()


async def test_streams_every_sample_with_template_hash(generator) -> None:  # type: ignore[no-untyped-def]
    out = await _generate(generator, prompts=("a", "b", "c"), n=2, temperature=0.8, sampling={"seed": 7})
    assert sorted((r.prompt_index, r.sample_index) for r in out) == [(i, s) for i in range(3) for s in range(2)]
    assert {r.prompt_id for r in out} == {"p0", "p1", "p2"}
    own = text_sha256(SMOLLM2_JINJA)  # the model's own template by default, recorded by its hash
    assert all(r.template == f"model:{own[:12]}" and r.template_sha256 == own for r in out)
    rendered = "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n" \
               "<|im_start|>user\na<|im_end|>\n<|im_start|>assistant\n"
    assert {r.prompt_sha256 for r in out if r.prompt_index == 0} == {text_sha256(rendered)}
    assert not any(r.template_override for r in out)
    assert {r.seed for r in out} == {7, 8}
    assert all(0 < r.completion_tokens <= 6 and r.prompt_tokens > 0 for r in out)


async def test_greedy_is_deterministic_and_raw_skips_template(generator) -> None:  # type: ignore[no-untyped-def]
    first = await _generate(generator)
    second = await _generate(generator)
    assert first[0].text == second[0].text and first[0].completion_tokens == second[0].completion_tokens
    raw = [r async for r in generator.Generate(pb.GenerateRequest(
        prompts=[pb.Prompt(raw="<|im_start|>user\nx")], sampling=pb.SamplingParams(max_tokens=3)))]
    assert raw[0].template == "raw" and raw[0].prompt_sha256 == text_sha256("<|im_start|>user\nx")


async def test_adapters_selected_per_request_in_one_batch(generator, tiny_adapters) -> None:  # type: ignore[no-untyped-def]
    for name, path in tiny_adapters.items():
        resp = await generator.LoadAdapter(pb.LoadAdapterRequest(name=name, path=str(path)))
        assert resp.adapter.rank == 4 and set(resp.adapter.target_modules) == {"q_proj", "v_proj"}
        assert resp.adapter.template == "smollm2" and len(resp.adapter.sha256) == 64
    listed = await generator.ListAdapters(pb.ListAdaptersRequest())
    assert [a.name for a in listed.adapters] == ["alpha", "beta"]
    solo = {a: (await _generate(generator, adapter=a))[0].text for a in ("", "alpha", "beta")}
    assert len(set(solo.values())) == 3, solo
    order = ["", "alpha", "beta", "", "beta", "alpha", ""]
    mixed = await asyncio.gather(*[_generate(generator, adapter=a) for a in order])
    for a, out in zip(order, mixed, strict=True):
        assert out[0].text == solo[a], (a, out[0].text, solo[a])
        assert out[0].adapter == a

    await generator.UnloadAdapter(pb.UnloadAdapterRequest(name="alpha"))
    assert await _code(_generate(generator, adapter="alpha")) == grpc.StatusCode.NOT_FOUND
    assert await _code(generator.UnloadAdapter(pb.UnloadAdapterRequest(name="alpha"))) == grpc.StatusCode.NOT_FOUND
    assert (await _generate(generator, adapter="beta"))[0].text == solo["beta"]
    await generator.UnloadAdapter(pb.UnloadAdapterRequest(name="beta"))
    assert (await _generate(generator))[0].text == solo[""]


async def test_bad_adapters_rejected_before_the_engine(generator, tiny_adapters, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    def load(name: str, path: Path | str, replace: bool = False):  # type: ignore[no-untyped-def]
        return generator.LoadAdapter(pb.LoadAdapterRequest(name=name, path=str(path), replace=replace))

    def variant(name: str, **cfg: object) -> Path:
        d = tmp_path / name
        shutil.copytree(tiny_adapters["alpha"], d)
        conf = json.loads((d / "adapter_config.json").read_text())
        conf.update(cfg)
        (d / "adapter_config.json").write_text(json.dumps(conf))
        return d

    assert await _code(load("x", tmp_path / "missing")) == grpc.StatusCode.NOT_FOUND
    assert await _code(load("bad name!", tiny_adapters["alpha"])) == grpc.StatusCode.INVALID_ARGUMENT
    broken = variant("broken")
    (broken / "adapter_config.json").write_text("{not json")
    assert await _code(load("x", broken)) == grpc.StatusCode.FAILED_PRECONDITION
    assert await _code(load("x", variant("rank", r=64))) == grpc.StatusCode.FAILED_PRECONDITION
    assert await _code(load("x", variant("targets", target_modules=["c_attn"]))) == grpc.StatusCode.FAILED_PRECONDITION
    other = variant("other-base", base_model_name_or_path="Qwen/Qwen2.5-Coder-0.5B-Instruct")
    (other / "codeeval_adapter.json").unlink()
    assert await _code(load("x", other)) == grpc.StatusCode.FAILED_PRECONDITION
    await load("dup", tiny_adapters["alpha"])
    assert await _code(load("dup", tiny_adapters["beta"])) == grpc.StatusCode.ALREADY_EXISTS
    replaced = await load("dup", tiny_adapters["beta"], replace=True)
    assert replaced.adapter.path == str(tiny_adapters["beta"].resolve())
    assert [a.name for a in (await generator.ListAdapters(pb.ListAdaptersRequest())).adapters] == ["dup"]


async def test_bad_requests_name_the_field(generator, tiny_adapters) -> None:  # type: ignore[no-untyped-def]
    cases: list[tuple[dict[str, object], str]] = [
             ({"max_tokens": 100000}, "sampling.max_tokens"), ({"n": 1000}, "sampling.n"),
             ({"temperature": -1.0}, "sampling.temperature"), ({"adapter": "nope"}, "adapter"),
             ({"template": "nope"}, "template"), ({"prompts": ("",)}, "prompts[0]")]
    for kw, field in cases:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await _generate(generator, **kw)
        assert info.value.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND), kw
        assert field in info.value.details(), (kw, info.value.details())
    await generator.LoadAdapter(pb.LoadAdapterRequest(name="alpha", path=str(tiny_adapters["alpha"])))
    code = await _code(_generate(generator, adapter="alpha", template="chatml"))
    assert code == grpc.StatusCode.FAILED_PRECONDITION


async def test_capabilities(generator) -> None:  # type: ignore[no-untyped-def]
    caps = await generator.GetCapabilities(pb.GetCapabilitiesRequest())
    assert caps.engine == "transformers" and caps.max_lora_rank == 8 and caps.runtime_adapter_loading
    assert "smollm2" in caps.templates and len(caps.base_model_sha256) == 64


async def test_runtime_loading_off_and_health(tiny_model: Path, tiny_adapters) -> None:  # type: ignore[no-untyped-def]
    settings = tiny_settings(tiny_model, runtime_adapter_loading=False, adapters={"alpha": tiny_adapters["alpha"]})
    runner = Runner(create(settings), settings)
    await runner.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{runner.port}")
    try:
        health = health_pb2_grpc.HealthStub(channel)
        await runner.wait_ready(60)
        status = await health.Check(health_pb2.HealthCheckRequest(service="codeeval.generator.v1.GeneratorService"))
        assert status.status == health_pb2.HealthCheckResponse.SERVING
        from codeeval.api.generator.v1 import generator_pb2_grpc

        stub = generator_pb2_grpc.GeneratorServiceStub(channel)
        assert [a.name for a in (await stub.ListAdapters(pb.ListAdaptersRequest())).adapters] == ["alpha"]
        code = await _code(stub.LoadAdapter(pb.LoadAdapterRequest(name="beta", path=str(tiny_adapters["beta"]))))
        assert code == grpc.StatusCode.FAILED_PRECONDITION
        code = await _code(stub.UnloadAdapter(pb.UnloadAdapterRequest(name="alpha")))
        assert code == grpc.StatusCode.FAILED_PRECONDITION
        assert (await _generate(stub, adapter="alpha"))[0].adapter == "alpha"
    finally:
        await channel.close()
        await runner.shutdown(grace=1)


async def test_not_serving_until_model_loads(tmp_path: Path) -> None:
    settings = tiny_settings(tmp_path / "no-model")
    runner = Runner(create(settings), settings)
    await runner.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{runner.port}")
    try:
        health = health_pb2_grpc.HealthStub(channel)
        await asyncio.sleep(1.0)
        status = await health.Check(health_pb2.HealthCheckRequest(service=""))
        assert status.status == health_pb2.HealthCheckResponse.NOT_SERVING
    finally:
        await channel.close()
        await runner.shutdown(grace=1)
