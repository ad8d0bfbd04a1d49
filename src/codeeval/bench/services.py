"""The bench's view of the four services: lazy channels, capability look-ups, and errors that name
the service that failed.

A channel comes from ``codeeval.kit.client.connect`` (``CODEEVAL_<SVC>_ADDR`` or a local service
started for the duration of the bench). A call that finds its service UNAVAILABLE is retried with
back-off for up to ``wait_s`` seconds (a restarting service); after that :class:`ServiceError` says
which service, where, and that the run resumes when started again.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import grpc

from codeeval.api.analyzer.v1 import analyzer_pb2, analyzer_pb2_grpc
from codeeval.api.generator.v1 import generator_pb2, generator_pb2_grpc
from codeeval.api.sandbox.v1 import sandbox_pb2, sandbox_pb2_grpc
from codeeval.kit.client import connect, describe_rpc_error

T = TypeVar("T")
_STUBS = {
    "generator": generator_pb2_grpc.GeneratorServiceStub,
    "sandbox": sandbox_pb2_grpc.SandboxServiceStub,
    "analyzer": analyzer_pb2_grpc.AnalyzerServiceStub,
}
_CAPS = {
    "generator": generator_pb2.GetCapabilitiesRequest,
    "sandbox": sandbox_pb2.GetCapabilitiesRequest,
    "analyzer": analyzer_pb2.GetCapabilitiesRequest,
}
_RETRYABLE = (grpc.StatusCode.UNAVAILABLE,)


class ServiceError(RuntimeError):
    """A service failed; ``service`` names it, the message says what it answered."""

    def __init__(self, service: str, message: str, code: grpc.StatusCode | None = None) -> None:
        super().__init__(message)
        self.service = service
        self.code = code


class Services:
    """Lazily connected stubs; use as a context manager so local services are stopped at the end."""

    def __init__(self, *, wait_s: float = 30.0, log_dir: Path | None = None, start_timeout: float = 900.0) -> None:
        self.wait_s = wait_s
        self.log_dir = log_dir
        self.start_timeout = start_timeout
        self._stack = contextlib.ExitStack()
        self._stubs: dict[str, Any] = {}
        self._caps: dict[str, Any] = {}

    def __enter__(self) -> Services:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def stub(self, service: str) -> Any:
        if service not in self._stubs:
            try:
                channel = self._stack.enter_context(
                    connect(service, start_timeout=self.start_timeout, log_dir=self.log_dir))
            except (RuntimeError, TimeoutError, OSError) as exc:
                raise ServiceError(service, f"{service} service could not be started: {exc}") from None
            self._stubs[service] = _STUBS[service](channel)
        return self._stubs[service]

    def call(self, service: str, fn: Callable[[Any], T]) -> T:
        """``fn(stub)`` with UNAVAILABLE retried for ``wait_s``; other errors become ServiceError at once."""
        deadline = time.monotonic() + self.wait_s
        delay = 0.5
        while True:
            try:
                return fn(self.stub(service))
            except grpc.RpcError as exc:
                if exc.code() not in _RETRYABLE or time.monotonic() + delay > deadline:
                    raise ServiceError(service, describe_rpc_error(service, exc), exc.code()) from None
            time.sleep(delay)
            delay = min(delay * 2, 5.0)

    def contacted(self) -> set[str]:
        """Services whose capabilities this run has read."""
        return set(self._caps)

    def capabilities(self, service: str) -> Any:
        if service not in self._caps:
            self._caps[service] = self.call(service, lambda s: s.GetCapabilities(_CAPS[service](), timeout=60))
        return self._caps[service]


@contextlib.contextmanager
def rpc_errors(service: str) -> Iterator[None]:
    """Turn a grpc error raised inside the block (e.g. mid-stream) into a ServiceError."""
    try:
        yield
    except grpc.RpcError as exc:
        raise ServiceError(service, describe_rpc_error(service, exc), exc.code()) from None


def stream_with_retry(services: Services, service: str, open_stream: Callable[[Any], Any],
                      on_response: Callable[[Any], None]) -> None:
    """Consume a server stream, re-opening it when the service is UNAVAILABLE (for ``wait_s``).

    ``on_response`` must skip responses it has already recorded: a re-opened stream starts over.
    """
    deadline = time.monotonic() + services.wait_s
    delay = 0.5
    while True:
        try:
            for response in open_stream(services.stub(service)):
                on_response(response)
            return
        except grpc.RpcError as exc:
            if exc.code() not in _RETRYABLE or time.monotonic() + delay > deadline:
                raise ServiceError(service, describe_rpc_error(service, exc), exc.code()) from None
        time.sleep(delay)
        delay = min(delay * 2, 5.0)
