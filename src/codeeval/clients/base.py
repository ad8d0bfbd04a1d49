"""The plumbing every typed client shares, in one place: where the service is
(``CODEEVAL_<SERVICE>_ADDR``, an explicit address, or a local service started for the client's
lifetime), the channel with the bearer token and TLS from the environment (:mod:`codeeval.kit.client`),
retries of UNAVAILABLE with back-off for ``wait_s`` seconds, server streams re-opened after
UNAVAILABLE, cached capabilities, and :class:`ServiceError` naming the service that failed.

A client is a context manager; closing it closes its channel and stops a local service it started.
Cost: the first call opens the channel (and starts a local service when no address is set:
seconds to minutes); a retried call sleeps 0.5 s doubling to 5 s between attempts.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

import grpc

from codeeval.kit.client import connect, describe_rpc_error, open_channel
from codeeval.kit.startup import ServiceStartError

T = TypeVar("T")
R = TypeVar("R")
StubT = TypeVar("StubT")
RETRYABLE = (grpc.StatusCode.UNAVAILABLE,)


class ServiceError(RuntimeError):
    """A service failed; ``service`` names it, the message says what it answered."""

    def __init__(self, service: str, message: str, code: grpc.StatusCode | None = None) -> None:
        super().__init__(message)
        self.service = service
        self.code = code


class ServiceClient(Generic[StubT]):
    """Lazily connected stub of one service with retries. Subclasses set ``service`` and ``stub_class``
    and add one typed method per RPC."""

    service: ClassVar[str]
    stub_class: ClassVar[type[Any]]

    def __init__(self, *, address: str | None = None, wait_s: float = 30.0, log_dir: Path | None = None,
                 start_timeout: float = 900.0) -> None:
        self.address = address
        self.wait_s = wait_s
        self.log_dir = log_dir
        self.start_timeout = start_timeout
        self._stack = contextlib.ExitStack()
        self._channel: grpc.Channel | None = None
        self._stub: StubT | None = None
        self._caps: Any = None

    def __enter__(self: T) -> T:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stack.close()
        self._channel = None
        self._stub = None

    @property
    def connected(self) -> bool:
        return self._stub is not None

    def channel(self) -> grpc.Channel:
        """The channel, opened (or a local service started) on first use. A local service that cannot
        start raises :class:`~codeeval.kit.startup.ServiceStartError` (its reason and log path, not a
        ServiceError: nothing to retry or resume until the machine or the settings change); any other
        failure to connect raises ServiceError."""
        if self._channel is None:
            try:
                if self.address:
                    self._channel = self._stack.enter_context(open_channel(self.address))
                else:
                    self._channel = self._stack.enter_context(
                        connect(self.service, start_timeout=self.start_timeout, log_dir=self.log_dir))
            except ServiceStartError:
                raise  # the reason and the log path, for the CLI to print (exit 2)
            except (RuntimeError, TimeoutError, OSError) as exc:
                raise ServiceError(self.service, f"{self.service} service could not be started: {exc}") from None
        return self._channel

    def stub(self) -> StubT:
        if self._stub is None:
            self._stub = self.stub_class(self.channel())
        return self._stub

    def error(self, exc: grpc.RpcError) -> ServiceError:
        return ServiceError(self.service, describe_rpc_error(self.service, exc), exc.code())

    def call(self, fn: Callable[[StubT], R]) -> R:
        """``fn(stub)`` with UNAVAILABLE retried for ``wait_s``; other errors become ServiceError at once."""
        deadline = time.monotonic() + self.wait_s
        delay = 0.5
        while True:
            try:
                return fn(self.stub())
            except grpc.RpcError as exc:
                if exc.code() not in RETRYABLE or time.monotonic() + delay > deadline:
                    raise self.error(exc) from None
            time.sleep(delay)
            delay = min(delay * 2, 5.0)

    def stream(self, open_stream: Callable[[StubT], Iterable[R]], on_response: Callable[[R], None]) -> None:
        """Consume a server stream, re-opening it when the service is UNAVAILABLE (for ``wait_s``).

        ``on_response`` must skip responses it has already handled: a re-opened stream starts over.
        """
        deadline = time.monotonic() + self.wait_s
        delay = 0.5
        while True:
            try:
                for response in open_stream(self.stub()):
                    on_response(response)
                return
            except grpc.RpcError as exc:
                if exc.code() not in RETRYABLE or time.monotonic() + delay > deadline:
                    raise self.error(exc) from None
            time.sleep(delay)
            delay = min(delay * 2, 5.0)

    @property
    def contacted(self) -> bool:
        """Whether this client has read the service's capabilities."""
        return self._caps is not None

    def _capabilities(self, request: Any) -> Any:
        if self._caps is None:
            self._caps = self.call(lambda s: s.GetCapabilities(request, timeout=60))  # type: ignore[attr-defined]
        return self._caps
