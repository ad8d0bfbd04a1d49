"""Bootstrap glue for ``codeeval serve generator``: settings, engine, core, servicer.

Readiness stays NOT_SERVING until the model is loaded and one real generation succeeded."""

from __future__ import annotations

import grpc

from codeeval.api.generator.v1 import generator_pb2_grpc
from codeeval.generator.core import GenerationCore
from codeeval.generator.factory import build_engine
from codeeval.generator.servicer import GeneratorServicer
from codeeval.generator.settings import GeneratorSettings
from codeeval.kit.server import Service

SETTINGS = GeneratorSettings


def create(settings: GeneratorSettings, core: GenerationCore | None = None) -> Service:
    core = core or GenerationCore(lambda: build_engine(settings), settings)

    def register(server: grpc.aio.Server) -> None:
        generator_pb2_grpc.add_GeneratorServiceServicer_to_server(GeneratorServicer(core), server)

    async def readiness() -> str | None:
        return core.readiness()

    return Service(name="generator", full_name="codeeval.generator.v1.GeneratorService", register=register,
                   readiness=readiness, start=core.start, stop=core.stop)
