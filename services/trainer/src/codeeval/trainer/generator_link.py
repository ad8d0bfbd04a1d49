"""The trainer's client of a running generator (GetCapabilities for the rank limit, LoadAdapter when
a job finishes). The address is ``settings.generator_addr`` or ``$CODEEVAL_GENERATOR_ADDR``."""

from __future__ import annotations

import grpc

from codeeval.api.generator.v1 import generator_pb2, generator_pb2_grpc
from codeeval.kit.client import open_channel, service_address
from codeeval.kit.errors import FailedPrecondition, Unavailable


class GrpcGeneratorLink:
    def __init__(self, address: str | None = None, timeout: float = 10.0, load_timeout: float = 300.0) -> None:
        self._address = address
        self.timeout = timeout
        self.load_timeout = load_timeout

    def address(self) -> str | None:
        return self._address or service_address("generator")

    def _stub(self, channel: grpc.Channel) -> generator_pb2_grpc.GeneratorServiceStub:
        return generator_pb2_grpc.GeneratorServiceStub(channel)

    def max_lora_rank(self) -> int:
        addr = self.address()
        if not addr:
            return 0
        try:
            with open_channel(addr) as channel:
                caps = self._stub(channel).GetCapabilities(generator_pb2.GetCapabilitiesRequest(),
                                                           timeout=self.timeout)
        except grpc.RpcError as exc:
            raise Unavailable(f"generator at {addr}: {exc.code().name}: {exc.details()}",
                              field="generator") from None
        return int(caps.max_lora_rank)

    def load_adapter(self, name: str, path: str) -> str:
        """Load (or replace) adapter ``name``; returns a one-line description of the outcome."""
        addr = self.address()
        if not addr:
            raise FailedPrecondition("no generator configured", field="output.load_into_generator")
        try:
            with open_channel(addr) as channel:
                resp = self._stub(channel).LoadAdapter(
                    generator_pb2.LoadAdapterRequest(name=name, path=path, replace=True), timeout=self.load_timeout)
        except grpc.RpcError as exc:
            raise Unavailable(f"LoadAdapter at {addr}: {exc.code().name}: {exc.details()}",
                              field="generator") from None
        return f"loaded adapter {resp.adapter.name!r} into the generator at {addr}"
