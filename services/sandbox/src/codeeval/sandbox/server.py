"""Bootstrap of the sandbox service: ``codeeval serve sandbox``.

Health stays NOT_SERVING until the backend started and a real probe program passed in it; the
probe re-runs at every readiness re-check, so a broken backend turns the service NOT_SERVING.
A start that fails (an unreachable workspace, a backend that cannot start) or a first probe that
fails for a reason no retry fixes (a permission error, a missing file or toolchain) ends the start
at once with the reason (:mod:`codeeval.kit.startup`).
"""

from __future__ import annotations

import grpc

from codeeval.api.sandbox.v1 import sandbox_pb2, sandbox_pb2_grpc
from codeeval.kit.server import Service
from codeeval.kit.startup import FatalStartupError, unhealable
from codeeval.sandbox.executor import Executor
from codeeval.sandbox.servicer import SandboxServicer
from codeeval.sandbox.settings import SandboxSettings

SETTINGS = SandboxSettings


def create(settings: SandboxSettings) -> Service:
    executor = Executor(settings)

    def register(server: grpc.aio.Server) -> None:
        sandbox_pb2_grpc.add_SandboxServiceServicer_to_server(SandboxServicer(executor), server)

    async def readiness() -> str | None:
        reason = await executor.readiness()
        if reason is not None and executor.started and unhealable(reason):
            raise FatalStartupError(f"the probe program cannot run in the sandbox on this machine: {reason}")
        return reason

    return Service(
        name="sandbox",
        full_name=sandbox_pb2.DESCRIPTOR.services_by_name["SandboxService"].full_name,
        register=register,
        readiness=readiness,
        start=executor.start,
        stop=executor.stop,
    )
