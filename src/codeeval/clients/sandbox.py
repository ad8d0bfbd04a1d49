"""Typed client of the sandbox service: capabilities, what it can run, and batches of programs
executed into :class:`~codeeval.records.Execution` records (streamed; after UNAVAILABLE, a replica
that died say, re-opened with only the programs not answered yet).
Cost: one ExecuteBatch stream per call, plus one per re-open; the service runs the programs in parallel."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

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
        """Run ``requests``; ``on_result(index, execution)`` exactly once per request (``keys[index]`` is
        the record's key). A stream lost to UNAVAILABLE is re-opened with only the requests not answered
        yet (a program in flight on a replica that died runs again on another; no result is delivered
        twice). Raises ServiceError when the service fails otherwise or leaves a request unanswered."""
        if len(keys) != len(requests):
            raise ValueError(f"keys: {len(keys)} keys for {len(requests)} requests")

        def open_stream(stub: sandbox_pb2_grpc.SandboxServiceStub,
                        batch: list[sandbox_pb2.ExecuteRequest]) -> Iterable[sandbox_pb2.ExecuteBatchResponse]:
            return stub.ExecuteBatch(sandbox_pb2.ExecuteBatchRequest(requests=batch),  # type: ignore[no-any-return]
                                     timeout=BATCH_DEADLINE_S)

        def handle(index: int, resp: sandbox_pb2.ExecuteBatchResponse) -> None:
            on_result(index, Execution.from_proto(keys[index], resp.result))

        self.stream_batch(list(requests), open_stream, lambda resp: resp.index, handle)
