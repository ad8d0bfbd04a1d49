"""GeneratorService servicer: translates messages to and from :class:`GenerationCore`; no logic."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from codeeval.api.generator.v1 import generator_pb2, generator_pb2_grpc
from codeeval.generator.adapters import AdapterRecord
from codeeval.generator.core import GenerateSpec, GenerationCore, PromptInput
from codeeval.kit.errors import DeadlineExceeded, Unavailable
from codeeval.prompts import list_templates

_FINISH = {"stop": generator_pb2.FINISH_REASON_STOP, "length": generator_pb2.FINISH_REASON_LENGTH}


def adapter_message(r: AdapterRecord) -> generator_pb2.AdapterInfo:
    return generator_pb2.AdapterInfo(
        name=r.name, path=r.path, rank=r.rank, alpha=r.alpha, target_modules=list(r.target_modules),
        base_model=r.base_model, size_bytes=r.size_bytes, sha256=r.sha256, load_time_ms=r.load_time_ms,
        template=r.template, template_sha256=r.template_sha256)


def _prompt(p: generator_pb2.Prompt) -> PromptInput:
    kind = p.WhichOneof("input")
    if kind == "chat":
        return PromptInput(p.id, "chat", messages=tuple({"role": m.role, "content": m.content}
                                                        for m in p.chat.messages))
    if kind == "raw":
        return PromptInput(p.id, "raw", text=p.raw)
    return PromptInput(p.id, "text", text=p.text)


def generate_spec(request: generator_pb2.GenerateRequest) -> GenerateSpec:
    s = request.sampling
    return GenerateSpec(
        prompts=tuple(_prompt(p) for p in request.prompts), adapter=request.adapter, template=request.template,
        temperature=s.temperature, top_p=s.top_p, max_tokens=s.max_tokens, n=s.n,
        seed=s.seed if s.HasField("seed") else None, stop=tuple(s.stop), template_override=request.template_override)


class GeneratorServicer(generator_pb2_grpc.GeneratorServiceServicer):
    def __init__(self, core: GenerationCore) -> None:
        self.core = core

    async def Generate(self, request: generator_pb2.GenerateRequest,  # noqa: N802
                       context: grpc.aio.ServicerContext) -> AsyncIterator[generator_pb2.GenerateResponse]:
        remaining = context.time_remaining()
        if remaining is not None and remaining <= 0:
            raise DeadlineExceeded("the deadline passed before generation started", field="deadline")
        async for r in self.core.generate(generate_spec(request)):
            c = r.completion
            yield generator_pb2.GenerateResponse(
                prompt_id=r.prompt_id, prompt_index=r.prompt_index, sample_index=r.sample_index, text=c.text,
                prompt_tokens=c.prompt_tokens, completion_tokens=c.completion_tokens,
                finish_reason=_FINISH[c.finish_reason], adapter=r.adapter, template=r.template,
                template_sha256=r.template_sha256, seed=r.seed, prompt_sha256=r.prompt_sha256,
                template_override=r.template_override)

    async def LoadAdapter(self, request: generator_pb2.LoadAdapterRequest,  # noqa: N802
                          context: grpc.aio.ServicerContext) -> generator_pb2.LoadAdapterResponse:
        rec = await self.core.load_adapter(request.name, request.path, request.replace)
        return generator_pb2.LoadAdapterResponse(adapter=adapter_message(rec))

    async def UnloadAdapter(self, request: generator_pb2.UnloadAdapterRequest,  # noqa: N802
                            context: grpc.aio.ServicerContext) -> generator_pb2.UnloadAdapterResponse:
        await self.core.unload_adapter(request.name)
        return generator_pb2.UnloadAdapterResponse()

    async def ListAdapters(self, request: generator_pb2.ListAdaptersRequest,  # noqa: N802
                           context: grpc.aio.ServicerContext) -> generator_pb2.ListAdaptersResponse:
        return generator_pb2.ListAdaptersResponse(adapters=[adapter_message(r) for r in self.core.list_adapters()])

    async def GetCapabilities(self, request: generator_pb2.GetCapabilitiesRequest,  # noqa: N802
                              context: grpc.aio.ServicerContext) -> generator_pb2.GetCapabilitiesResponse:
        info, s = self.core.info, self.core.settings
        if info is None:
            raise Unavailable("the model is still loading", field="model")
        return generator_pb2.GetCapabilitiesResponse(
            engine=info.engine, engine_version=info.engine_version, base_model=info.model,
            base_model_sha256=info.model_sha256, dtype=info.dtype, max_loras=info.max_loras,
            max_lora_rank=info.max_lora_rank, runtime_adapter_loading=s.runtime_adapter_loading,
            max_prompts=s.max_prompts, max_tokens=s.max_tokens, max_n=s.max_n, max_model_len=info.max_model_len,
            templates=[t.name for t in list_templates()])
