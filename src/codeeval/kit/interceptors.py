"""Server interceptors: request id + structured access log + metrics, domain-error mapping, and
bearer-token auth.

Each interceptor wraps the handler's behaviour function. Every codeeval RPC is unary or
server-streaming; the bootstrap also serves gRPC reflection (stream-stream). Authentication fails
closed for all four handler kinds: a method the interceptor cannot classify is refused, never
passed through.
"""

from __future__ import annotations

import hmac
import inspect
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from google.protobuf.message import DecodeError
from prometheus_client import Counter, Histogram

from codeeval.kit import errors, logs, wire

log = logging.getLogger("codeeval.rpc")

RPC_TOTAL = Counter("codeeval_rpc_total", "RPCs handled", ["method", "code"])
RPC_SECONDS = Histogram("codeeval_rpc_duration_seconds", "RPC duration", ["method"])

# Health checks come from kubelet probes, which cannot send a token.
AUTH_EXEMPT_PREFIXES = ("/grpc.health.v1.Health/",)


Behavior = Callable[[Any, grpc.aio.ServicerContext], Any]


def _rewrap(handler: grpc.RpcMethodHandler, wrap_unary: Callable[[Behavior], Behavior],
            wrap_stream: Callable[[Behavior], Behavior]) -> grpc.RpcMethodHandler:
    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(
            wrap_unary(handler.unary_unary), handler.request_deserializer, handler.response_serializer)
    if handler.unary_stream:
        # Streaming handlers are async generators, or coroutines that call context.write()
        # (grpc's own health Watch): the latter are wrapped like unary ones.
        behavior = handler.unary_stream
        wrap = wrap_stream if inspect.isasyncgenfunction(behavior) else wrap_unary
        return grpc.unary_stream_rpc_method_handler(
            wrap(behavior), handler.request_deserializer, handler.response_serializer)
    return handler  # client-streaming RPCs are not used by codeeval


class _Undecodable:
    """A request whose bytes did not parse: where (field path) and why."""

    def __init__(self, field: str, reason: str) -> None:
        self.field, self.reason = field, reason


def _tolerant(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    """``deserializer`` returning :class:`_Undecodable` instead of raising DecodeError (which gRPC
    would answer UNKNOWN before any handler runs)."""
    desc = getattr(getattr(deserializer, "__self__", None), "DESCRIPTOR", None)
    if deserializer is None or desc is None:
        return deserializer

    def parse(data: bytes) -> Any:
        try:
            return deserializer(data)
        except DecodeError:
            return _Undecodable(*wire.decode_error(desc, data))
    return parse


def _check_decoded(request: Any) -> None:
    if isinstance(request, _Undecodable):
        raise errors.InvalidArgument(request.reason, field=request.field)


#: Longest status message sent, in bytes on the wire: the details travel as trailing metadata,
#: percent-encoded (3 bytes per non-ASCII byte), and a client may refuse metadata past 8 KiB (a message
#: echoing a huge field value would reach the caller as RESOURCE_EXHAUSTED instead).
MAX_DETAILS = 2000


def _bounded(message: str) -> str:
    """``message`` cut so that its percent-encoded form fits :data:`MAX_DETAILS` bytes."""
    size = 0
    for i, char in enumerate(message):
        size += 1 if " " <= char <= "~" and char != "%" else 3 * len(char.encode("utf-8", "replace"))
        if size > MAX_DETAILS - 100:
            return f"{message[:i]}... ({len(message)} characters in all)"
    return message


class ErrorInterceptor(grpc.aio.ServerInterceptor):
    """Maps :class:`~codeeval.kit.errors.CodeevalError` to its status code; any other exception
    becomes INTERNAL with the request id only, never a traceback (that goes to the log). A request
    whose bytes do not parse (bad UTF-8 in a string, a torn message) is INVALID_ARGUMENT naming the
    field (:mod:`codeeval.kit.wire`), not gRPC's UNKNOWN."""

    async def intercept_service(self, continuation: Callable[..., Awaitable[Any]],
                                details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None:
            return handler
        handler = handler._replace(request_deserializer=_tolerant(handler.request_deserializer))
        return _rewrap(handler, self._unary, self._stream)

    @staticmethod
    async def _abort(context: grpc.aio.ServicerContext, exc: BaseException) -> None:
        if isinstance(exc, errors.CodeevalError):
            await context.abort(grpc.StatusCode[exc.status], _bounded(str(exc)))
        log.exception("unhandled error", exc_info=exc)
        await context.abort(grpc.StatusCode.INTERNAL, f"internal error (request id {logs.request_id.get()})")

    def _unary(self, behavior: Behavior) -> Behavior:
        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
            try:
                _check_decoded(request)
                return await behavior(request, context)
            except grpc.aio.AbortError:
                raise
            except Exception as exc:  # noqa: BLE001 - mapped, never leaked
                await self._abort(context, exc)
        return wrapped

    def _stream(self, behavior: Behavior) -> Behavior:
        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            try:
                _check_decoded(request)
                async for item in behavior(request, context):
                    yield item
            except grpc.aio.AbortError:
                raise
            except Exception as exc:  # noqa: BLE001 - mapped, never leaked
                await self._abort(context, exc)
        return wrapped


class AccessLogInterceptor(grpc.aio.ServerInterceptor):
    """Assigns a request id (the client's ``x-request-id`` or a new one), returns it as trailing
    metadata, and logs one structured line per RPC with method, status and duration."""

    async def intercept_service(self, continuation: Callable[..., Awaitable[Any]],
                                details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None:
            return handler
        method = details.method
        incoming = dict(details.invocation_metadata or ())

        def begin(context: grpc.aio.ServicerContext) -> tuple[Any, float]:
            rid = str(incoming.get("x-request-id") or uuid.uuid4().hex[:16])
            token = logs.request_id.set(rid)
            context.set_trailing_metadata((("x-request-id", rid),))
            return token, time.perf_counter()

        def end(context: grpc.aio.ServicerContext, token: Any, start: float, failed: BaseException | None) -> None:
            code = context.code()
            if code is None:
                code = grpc.StatusCode.OK if failed is None else grpc.StatusCode.UNKNOWN
            if isinstance(code, int):
                code = next((c for c in grpc.StatusCode if c.value[0] == code), grpc.StatusCode.UNKNOWN)
            elapsed = time.perf_counter() - start
            RPC_TOTAL.labels(method, code.name).inc()
            RPC_SECONDS.labels(method).observe(elapsed)
            log.info("rpc", extra={"fields": {"method": method, "code": code.name,
                                              "duration_ms": round(elapsed * 1000, 1), "peer": context.peer()}})
            logs.request_id.reset(token)

        def unary(behavior: Behavior) -> Behavior:
            async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
                token, start = begin(context)
                failed: BaseException | None = None
                try:
                    return await behavior(request, context)
                except BaseException as exc:
                    failed = exc
                    raise
                finally:
                    end(context, token, start, failed)
            return wrapped

        def stream(behavior: Behavior) -> Behavior:
            async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                token, start = begin(context)
                failed: BaseException | None = None
                try:
                    async for item in behavior(request, context):
                        yield item
                except BaseException as exc:
                    failed = exc
                    raise
                finally:
                    end(context, token, start, failed)
            return wrapped

        return _rewrap(handler, unary, stream)


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Requires ``authorization: Bearer <token>`` on every RPC except health checks, whatever the
    method's kind (unary or streaming request, unary or streaming response): a denied call gets
    UNAUTHENTICATED before its handler runs. Cost: one constant-time comparison per call."""

    def __init__(self, token: str) -> None:
        self._expected = f"Bearer {token}".encode()

    async def intercept_service(self, continuation: Callable[..., Awaitable[Any]],
                                details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        if details.method.startswith(AUTH_EXEMPT_PREFIXES):
            return await continuation(details)
        sent = dict(details.invocation_metadata or ()).get("authorization", "")
        if isinstance(sent, str) and hmac.compare_digest(sent.encode(), self._expected):
            return await continuation(details)
        handler = await continuation(details)
        if handler is None:
            return handler
        return deny_handler(handler, "missing bearer token" if not sent else "invalid bearer token")


def deny_handler(handler: grpc.RpcMethodHandler, message: str) -> grpc.RpcMethodHandler:
    """A handler of ``handler``'s kind that aborts with UNAUTHENTICATED without calling it (an
    unknown kind is refused as a unary call)."""

    async def deny_unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

    async def deny_stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)
        yield  # pragma: no cover - makes this an async generator

    de, se = handler.request_deserializer, handler.response_serializer
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(deny_stream, de, se)
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(deny_unary, de, se)
    if handler.stream_stream:
        return grpc.stream_stream_rpc_method_handler(deny_stream, de, se)
    return grpc.unary_unary_rpc_method_handler(deny_unary, de, se)
