"""The plumbing every typed client shares, in one place: where the service is
(``CODEEVAL_<SERVICE>_ADDR``, an explicit address, or a local service started for the client's
lifetime), the channel with the bearer token and TLS from the environment (:mod:`codeeval.kit.client`),
retries of UNAVAILABLE with back-off for ``wait_s`` seconds, server streams re-opened after
UNAVAILABLE (a batch stream re-opened with only the requests not yet answered:
:meth:`ServiceClient.stream_batch`), cached capabilities, and :class:`ServiceError` naming the
service that failed.

Behind a static address list (``ipv4:127.0.0.1:A,127.0.0.1:B``) or a headless Service the channel
spreads calls round robin; a replica that dies mid-call fails that call with UNAVAILABLE, and the
retry or the re-opened stream goes to a replica that is still up.

A client is a context manager; closing it closes its channel and stops a local service it started.
Cost: the first call opens the channel (and starts a local service when no address is set:
seconds to minutes); a retried call sleeps 0.5 s doubling to 5 s between attempts.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Sequence
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
        #: Streams re-opened after UNAVAILABLE, and requests sent again in them (for the figures).
        self.reopened = 0
        self.resent = 0

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
        """``fn(stub)`` with UNAVAILABLE retried for ``wait_s`` seconds counted from the first failure
        (a long call whose replica dies late still gets the whole budget); other errors become
        ServiceError at once. Only for idempotent calls: a call lost mid-way is sent again whole."""
        deadline: float | None = None
        delay = 0.5
        while True:
            try:
                return fn(self.stub())
            except grpc.RpcError as exc:
                if deadline is None:
                    deadline = time.monotonic() + self.wait_s
                if exc.code() not in RETRYABLE or time.monotonic() + delay > deadline:
                    raise self.error(exc) from None
            time.sleep(delay)
            delay = min(delay * 2, 5.0)

    def stream(self, open_stream: Callable[[StubT], Iterable[R]], on_response: Callable[[R], None]) -> None:
        """Consume a server stream, re-opening it when the service is UNAVAILABLE.

        ``open_stream(stub)`` is called again for every re-open. Either it sends only what is still
        unanswered (:meth:`stream_batch` does that for batch streams), or ``on_response`` must skip
        responses it has already handled (a re-opened stream starts over). The ``wait_s`` budget of
        retries counts from the last response received: a long stream that made progress, then lost its
        replica, gets the whole budget again. Other errors become ServiceError at once.
        """
        deadline = time.monotonic() + self.wait_s
        delay = 0.5
        while True:
            try:
                for response in open_stream(self.stub()):
                    on_response(response)
                    deadline = time.monotonic() + self.wait_s
                    delay = 0.5
                return
            except grpc.RpcError as exc:
                if exc.code() not in RETRYABLE or time.monotonic() + delay > deadline:
                    raise self.error(exc) from None
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
            self.reopened += 1

    def stream_batch(self, requests: Sequence[T], open_stream: Callable[[StubT, list[T]], Iterable[R]],
                     index_of: Callable[[R], int], on_response: Callable[[int, R], None]) -> None:
        """A batch stream: ``open_stream(stub, batch)`` answers each request of ``batch`` once, in any
        order, each response naming its request by position in ``batch`` (``index_of``).

        ``on_response(i, response)`` is called exactly once per request, ``i`` its position in
        ``requests``. A stream lost to UNAVAILABLE is re-opened (as :meth:`stream`) with only the
        requests not answered yet, so a replica's death re-runs only what was in flight there; an answer
        that repeats a request is dropped. Raises ServiceError when a response names a position outside
        its batch or the stream ends with requests unanswered (never a silent gap).
        Cost: one stream, plus one per re-open carrying the unanswered requests.
        """
        delivered: set[int] = set()
        sent: list[int] = []

        def reopen(stub: StubT) -> Iterable[R]:
            if sent:
                self.resent += len(requests) - len(delivered)
            sent[:] = [i for i in range(len(requests)) if i not in delivered]
            return open_stream(stub, [requests[i] for i in sent]) if sent else ()

        def handle(response: R) -> None:
            j = index_of(response)
            if not 0 <= j < len(sent):
                raise ServiceError(self.service, f"{self.service}: a response names request {j} of a batch of "
                                                 f"{len(sent)}")
            if sent[j] in delivered:
                return
            delivered.add(sent[j])
            on_response(sent[j], response)

        self.stream(reopen, handle)
        if len(delivered) < len(requests):
            raise ServiceError(self.service, f"{self.service}: the stream ended with {len(requests) - len(delivered)} "
                                             f"of {len(requests)} requests unanswered")

    @property
    def contacted(self) -> bool:
        """Whether this client has read the service's capabilities."""
        return self._caps is not None

    def _capabilities(self, request: Any) -> Any:
        if self._caps is None:
            self._caps = self.call(lambda s: s.GetCapabilities(request, timeout=60))  # type: ignore[attr-defined]
        return self._caps
