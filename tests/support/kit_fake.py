"""Shared support for the kit tests: a fake servicer behind the real kit bootstrap."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from codeeval.api.sandbox.v1 import sandbox_pb2, sandbox_pb2_grpc
from codeeval.kit import errors
from codeeval.kit.server import Runner, Service
from codeeval.kit.settings import ServiceSettings

FULL_NAME = "codeeval.sandbox.v1.SandboxService"


class FakeSandbox(sandbox_pb2_grpc.SandboxServiceServicer):
    def __init__(self) -> None:
        self.started = asyncio.Event()

    async def Execute(self, request, context):  # noqa: N802
        if request.id == "bad":
            raise errors.InvalidArgument("must not be 'bad'", field="id")
        if request.id == "missing":
            raise errors.NotFound("no such thing", field="id")
        if request.id == "crash":
            raise RuntimeError("secret internal detail")
        if request.id.startswith("slow"):
            self.started.set()
            await asyncio.sleep(float(request.id.split(":")[1]))
        return sandbox_pb2.ExecuteResponse(result=sandbox_pb2.ExecutionResult(id=request.id))

    async def ExecuteBatch(self, request, context) -> AsyncIterator[sandbox_pb2.ExecuteBatchResponse]:  # noqa: N802
        for i, req in enumerate(request.requests):
            if req.id == "bad":
                raise errors.ResourceExhausted("queue full", field="requests")
            yield sandbox_pb2.ExecuteBatchResponse(index=i, result=sandbox_pb2.ExecutionResult(id=req.id))


class Gate:
    """A readiness check the test opens and closes."""

    def __init__(self) -> None:
        self.reason: str | None = "model not loaded"

    async def __call__(self) -> str | None:
        return self.reason


async def start(gate: Gate | None = None, **settings) -> tuple[Runner, FakeSandbox]:
    fake = FakeSandbox()
    service = Service(
        name="sandbox", full_name=FULL_NAME,
        register=lambda server: sandbox_pb2_grpc.add_SandboxServiceServicer_to_server(fake, server),
        readiness=gate or Gate.__call__.__get__(type("Open", (), {"reason": None})()),
    )
    runner = Runner(service, ServiceSettings(health_recheck_seconds=0.05, **settings))
    await runner.start()
    return runner, fake
