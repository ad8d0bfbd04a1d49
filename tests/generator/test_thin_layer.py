"""The generator service is a thin layer over vLLM: through real gRPC, one request at a time, it
returns exactly what the same running ``AsyncLLM`` returns when driven directly with vLLM's default
(per-token) output kind: same text, same prompt and completion token counts, for the base model and
for an adapter. (Its throughput against an in-process AsyncLLM is measured by
bench/generator/bench_thin_layer.py, never in a test.) One vLLM start: about a minute on 2 cores."""

from __future__ import annotations

import uuid
from pathlib import Path

import grpc
import pytest

from codeeval.api.generator.v1 import generator_pb2 as pb
from codeeval.api.generator.v1 import generator_pb2_grpc
from codeeval.generator.core import GenerationCore
from codeeval.generator.factory import build_engine
from codeeval.generator.server import create
from codeeval.generator.settings import GeneratorSettings
from codeeval.kit.server import Runner

from .lora_factory import random_adapter

pytestmark = [pytest.mark.slow, pytest.mark.integration]

PROMPTS = ["Write a Python function that adds two numbers.", "Write a Java method that reverses a string."]


@pytest.mark.timeout(1200)
async def test_service_returns_exactly_what_the_engine_returns(tmp_path: Path) -> None:
    pytest.importorskip("vllm")
    from vllm import SamplingParams

    from codeeval.generator.vllm_engine import VllmEngine
    from codeeval.models import prepare_default_model
    from codeeval.prompts import get_template

    adapter = random_adapter(prepare_default_model(), tmp_path / "rnd", rank=8, seed=3)
    settings = GeneratorSettings.model_validate({"engine": "vllm", "max_lora_rank": 8, "max_loras": 2,
                                                 "max_model_len": 512, "health_recheck_seconds": 0.5})
    core = GenerationCore(lambda: build_engine(settings), settings)
    runner = Runner(create(settings, core), settings)
    await runner.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{runner.port}")
    stub = generator_pb2_grpc.GeneratorServiceStub(channel)
    try:
        await runner.wait_ready(900)
        await stub.LoadAdapter(pb.LoadAdapterRequest(name="rnd", path=str(adapter)))
        engine = core.engine
        assert isinstance(engine, VllmEngine)
        template = get_template("smollm2")
        texts = {}
        for name in ("", "rnd"):
            for prompt in PROMPTS:
                req = pb.GenerateRequest(prompts=[pb.Prompt(text=prompt)], adapter=name, template=template.name,
                                         sampling=pb.SamplingParams(max_tokens=24))
                (got,) = [r async for r in stub.Generate(req)]
                params = SamplingParams(temperature=0.0, max_tokens=24, seed=0, stop=list(template.stop))
                final = None
                async for out in engine.llm.generate(template.render([{"role": "user", "content": prompt}]), params,
                                                     request_id=uuid.uuid4().hex,
                                                     lora_request=engine.lora_request(name) if name else None):
                    final = out
                assert final is not None
                direct = final.outputs[0]
                assert (got.text, got.completion_tokens, got.prompt_tokens) == (
                    direct.text, len(direct.token_ids), len(final.prompt_token_ids or [])), (name, prompt)
                assert got.finish_reason == (pb.FINISH_REASON_LENGTH if direct.finish_reason == "length"
                                             else pb.FINISH_REASON_STOP)
                texts[name, prompt] = got.text
        assert all(texts["", p] != texts["rnd", p] for p in PROMPTS), "the adapter must be in effect"
    finally:
        await channel.close()
        await runner.shutdown(grace=1)
