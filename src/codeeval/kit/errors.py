"""The domain error hierarchy. Service cores raise these; the error interceptor maps each to the
most specific gRPC status code. This module does not import grpc, so cores stay grpc-free.

A message names the field and, where there is one, the limit: ``"program.source: 70000 bytes
exceeds the maximum of 65536"``.
"""

from __future__ import annotations


class CodeevalError(Exception):
    """Base class. ``status`` is the name of a ``grpc.StatusCode`` member."""

    status = "INTERNAL"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)


class InvalidArgument(CodeevalError):
    status = "INVALID_ARGUMENT"


class NotFound(CodeevalError):
    status = "NOT_FOUND"


class AlreadyExists(CodeevalError):
    status = "ALREADY_EXISTS"


class FailedPrecondition(CodeevalError):
    status = "FAILED_PRECONDITION"


class ResourceExhausted(CodeevalError):
    status = "RESOURCE_EXHAUSTED"


class Unavailable(CodeevalError):
    status = "UNAVAILABLE"


class DeadlineExceeded(CodeevalError):
    status = "DEADLINE_EXCEEDED"


class Cancelled(CodeevalError):
    status = "CANCELLED"


class PermissionDenied(CodeevalError):
    status = "PERMISSION_DENIED"


class Unauthenticated(CodeevalError):
    status = "UNAUTHENTICATED"


class Unimplemented(CodeevalError):
    status = "UNIMPLEMENTED"


def require(condition: bool, field: str, message: str) -> None:
    """Raise :class:`InvalidArgument` for ``field`` unless ``condition`` holds."""
    if not condition:
        raise InvalidArgument(message, field=field)


def check_max(field: str, value: int | float, maximum: int | float, unit: str = "") -> None:
    """Raise :class:`InvalidArgument` naming ``field`` and ``maximum`` when ``value`` exceeds it."""
    if value > maximum:
        suffix = f" {unit}" if unit else ""
        raise InvalidArgument(f"{value}{suffix} exceeds the maximum of {maximum}{suffix}", field=field)


def decode_utf8(field: str, data: bytes) -> str:
    """Decode ``data`` as UTF-8 or raise :class:`InvalidArgument` naming ``field`` and the offset."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidArgument(f"not valid UTF-8 (byte {exc.start})", field=field) from None
