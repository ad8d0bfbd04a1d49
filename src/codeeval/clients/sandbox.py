"""Typed client of the sandbox service: capabilities, what it can run, and batches of programs
executed into :class:`~codeeval.records.Execution` records (streamed, re-opened after UNAVAILABLE).
Cost: one ExecuteBatch stream per call; the service runs the programs in parallel."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from codeeval.api.sandbox.v1 import sandbox_pb2, sandbox_pb2_grpc
from codeeval.clients.base import ServiceClient
from codeeval.kit import languages
from codeeval.records import Execution, Mode

BATCH_DEADLINE_S = 3600.0


class SandboxClient(ServiceClient[sandbox_pb2_grpc.SandboxServiceStub]):
    service = "sandbox"
    stub_class = sandbox_pb2_grpc.SandboxServiceStub

    def capabilities(self) -> sandbox_pb2.GetCapabilitiesResponse:
        caps: sandbox_pb2.GetCapabilitiesResponse = self._capabilities(sandbox_pb2.GetCapabilitiesRequest())
        return caps

    def supported(self) -> set[tuple[str, Mode]]:
        """(language name, mode) pairs the sandbox runs (a language listing no modes runs both)."""
        out = set()
        for lang in self.capabilities().languages:
            name = next((x.name for x in languages.LANGUAGES.values() if x.proto == lang.language), None)
            if name is None:
                continue
            for m in lang.modes or [sandbox_pb2.MODE_RUN_TESTS, sandbox_pb2.MODE_COMPILE_ONLY]:
                if m in (sandbox_pb2.MODE_RUN_TESTS, sandbox_pb2.MODE_COMPILE_ONLY):
                    out.add((name, Mode.from_proto(m)))
        return out

    def batch_size(self, cap: int = 16) -> int:
        return max(1, min(self.capabilities().max_batch_size or cap, cap))

    def execute_batch(self, requests: Sequence[sandbox_pb2.ExecuteRequest], keys: Sequence[str],
                      on_result: Callable[[int, Execution], None]) -> None:
        """Run ``requests``; ``on_result(index, execution)`` once per request (``keys[index]`` is the
        record's key). After a re-opened stream, indexes already delivered are not delivered again."""
        if len(keys) != len(requests):
            raise ValueError(f"keys: {len(keys)} keys for {len(requests)} requests")
        delivered: set[int] = set()
        request = sandbox_pb2.ExecuteBatchRequest(requests=list(requests))

        def handle(resp: sandbox_pb2.ExecuteBatchResponse) -> None:
            if resp.index in delivered:
                return
            delivered.add(resp.index)
            on_result(resp.index, Execution.from_proto(keys[resp.index], resp.result))

        self.stream(lambda stub: stub.ExecuteBatch(request, timeout=BATCH_DEADLINE_S), handle)
