"""Template choice over real gRPC (transformers engine, tiny Llama): the model's own template by
default, raw for a base model, an adapter's recorded template enforced (FAILED_PRECONDITION naming
both templates and hashes) unless overridden (then flagged), adapters without codeeval metadata
served with the model's own template, and a template that does not render."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from codeeval.api.generator.v1 import generator_pb2 as pb
from codeeval.api.generator.v1 import generator_pb2_grpc
from codeeval.generator.server import create
from codeeval.kit.server import Runner
from codeeval.prompts import get_template, rendered_sha256, text_sha256

from .conftest import SMOLLM2_JINJA, tiny_settings, with_chat_template

NO_SYSTEM_JINJA = ("{% for m in messages %}{% if m['role'] == 'system' %}{{ raise_exception('System role not "
                   "supported') }}{% endif %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
                   "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


async def _serve(model: Path) -> AsyncIterator[generator_pb2_grpc.GeneratorServiceStub]:
    settings = tiny_settings(model)
    runner = Runner(create(settings), settings)
    await runner.start()
    await runner.wait_ready(60)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{runner.port}")
    yield generator_pb2_grpc.GeneratorServiceStub(channel)
    await channel.close()
    await runner.shutdown(grace=1)


async def _gen(stub, *, messages=(("user", "hi"),), **kw) -> list[pb.GenerateResponse]:  # type: ignore[no-untyped-def]
    chat = pb.Chat(messages=[pb.ChatMessage(role=r, content=c) for r, c in messages])
    req = pb.GenerateRequest(prompts=[pb.Prompt(id="p", chat=chat)], sampling=pb.SamplingParams(max_tokens=3), **kw)
    return [r async for r in stub.Generate(req)]


async def _error(coro) -> grpc.aio.AioRpcError:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await coro
    return info.value


def _unmarked(adapter: Path, out: Path) -> Path:
    """The adapter as another tool leaves it: PEFT files only, no codeeval metadata."""
    shutil.copytree(adapter, out)
    (out / "codeeval_adapter.json").unlink()
    return out


@pytest.fixture
async def base_generator(tiny_model: Path) -> AsyncIterator[generator_pb2_grpc.GeneratorServiceStub]:
    async for stub in _serve(tiny_model):
        yield stub


@pytest.fixture
async def strict_generator(tiny_model: Path, tmp_path: Path) -> AsyncIterator[generator_pb2_grpc.GeneratorServiceStub]:
    async for stub in _serve(with_chat_template(tiny_model, tmp_path, NO_SYSTEM_JINJA)):
        yield stub


async def test_base_model_is_prompted_raw(base_generator) -> None:  # type: ignore[no-untyped-def]
    out = await _gen(base_generator)
    assert out[0].template == "raw" and out[0].prompt_sha256 == text_sha256("hi")


async def test_recorded_template_is_enforced_and_an_override_is_flagged(generator, tiny_adapters) -> None:  # type: ignore[no-untyped-def]
    await generator.LoadAdapter(pb.LoadAdapterRequest(name="alpha", path=str(tiny_adapters["alpha"])))
    trained = await _gen(generator, adapter="alpha")
    assert trained[0].template == "smollm2" and not trained[0].template_override
    # The model's own template renders exactly like the recorded registry smollm2: accepted as the same.
    own = await _gen(generator, adapter="alpha", template="model")
    assert own[0].template.startswith("model:") and not own[0].template_override
    assert own[0].prompt_sha256 == trained[0].prompt_sha256 and own[0].text == trained[0].text

    err = await _error(_gen(generator, adapter="alpha", template="human-assistant"))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    smol, human = get_template("smollm2"), get_template("human-assistant")
    for part in ("'smollm2'", smol.sha256[:12], "'human-assistant'", human.sha256[:12],
                 rendered_sha256(human)[:12], "template_override"):
        assert part in err.details(), (part, err.details())

    forced = await _gen(generator, adapter="alpha", template="human-assistant", template_override=True)
    assert forced[0].template == "human-assistant" and forced[0].template_override
    assert forced[0].prompt_sha256 == text_sha256("Human: hi\n\nAssistant:")
    base = await _gen(generator, template="human-assistant")  # no adapter: a template is no override
    assert not base[0].template_override


async def test_adapter_without_metadata_gets_the_models_own_template(generator, tiny_adapters, tmp_path) -> None:  # type: ignore[no-untyped-def]
    folder = _unmarked(tiny_adapters["beta"], tmp_path / "from-elsewhere")
    loaded = await generator.LoadAdapter(pb.LoadAdapterRequest(name="elsewhere", path=str(folder)))
    assert loaded.adapter.template == "unknown" and loaded.adapter.template_sha256 == ""
    out = await _gen(generator, adapter="elsewhere")
    assert out[0].template == f"model:{text_sha256(SMOLLM2_JINJA)[:12]}" and not out[0].template_override
    assert (await _gen(generator, adapter="elsewhere", template="chatml"))[0].template == "chatml"


async def test_adapter_of_another_base_model_is_refused(generator, tiny_adapters, tmp_path) -> None:  # type: ignore[no-untyped-def]
    folder = _unmarked(tiny_adapters["beta"], tmp_path / "other")
    cfg = json.loads((folder / "adapter_config.json").read_text())
    cfg["base_model_name_or_path"] = "meta-llama/Llama-3.2-1B"
    (folder / "adapter_config.json").write_text(json.dumps(cfg))
    err = await _error(generator.LoadAdapter(pb.LoadAdapterRequest(name="other", path=str(folder))))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and "meta-llama/Llama-3.2-1B" in err.details()


async def test_template_that_does_not_render_names_the_cause(strict_generator) -> None:  # type: ignore[no-untyped-def]
    assert (await _gen(strict_generator))[0].template.startswith("model:")
    err = await _error(_gen(strict_generator, messages=(("system", "be brief"), ("user", "hi"))))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "does not render" in err.details() and "System role not supported" in err.details()


async def test_hub_id_that_cannot_be_fetched_is_a_clear_error(generator, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the real hub code path, without a network
    err = await _error(generator.LoadAdapter(pb.LoadAdapterRequest(name="hub", path="no-such-org/no-such-adapter")))
    assert err.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.NOT_FOUND)
    assert "no-such-org/no-such-adapter" in err.details() and "hub" in err.details()


async def test_the_bench_client_asks_for_the_override_only_when_told(generator, tiny_adapters) -> None:  # type: ignore[no-untyped-def]
    """The typed client the bench uses (a suite task's ``template_override``) reaches the real service."""
    import asyncio

    from codeeval.clients import ServiceError
    from codeeval.clients.generator import GeneratorClient, PromptToGenerate, Sampling

    await generator.LoadAdapter(pb.LoadAdapterRequest(name="alpha", path=str(tiny_adapters["alpha"])))
    prompts = [PromptToGenerate("t", "i", [{"role": "user", "content": "hi"}])]
    sampling = Sampling(temperature=0.0, top_p=1.0, max_tokens=3, n=1, seed=0, stop=[])

    def run(**kw) -> list:  # type: ignore[no-untyped-def,type-arg]
        got: list = []  # type: ignore[type-arg]
        with GeneratorClient(address=f"127.0.0.1:{generator.port}") as client:
            client.generate(prompts, sampling, got.append, adapter="alpha", template="human-assistant", **kw)
        return got

    with pytest.raises(ServiceError) as info:
        await asyncio.to_thread(run)
    assert info.value.code == grpc.StatusCode.FAILED_PRECONDITION
    forced = await asyncio.to_thread(run, template_override=True)
    assert forced[0].template == "human-assistant" and forced[0].template_override
