"""Errors of the data layer. Each is a :mod:`codeeval.kit.errors` exception (so a service maps it to
its gRPC status) and the matching builtin (so callers may catch ``OSError``/``ValueError``).

``key`` names the source key at fault (``path``, ``fields``, ``hf_name``, ``reader``...), for
callers that prefix their own location (``data.tasks[t].source``); messages name the file and,
where there is one, the record and the limit.
"""

from __future__ import annotations

from codeeval.kit.errors import FailedPrecondition, InvalidArgument, NotFound


class DataNotFound(NotFound, FileNotFoundError):
    """A data file or folder does not exist (the message names it)."""

    def __init__(self, message: str, key: str = "path") -> None:
        super().__init__(message)
        self.key = key


class DataError(FailedPrecondition, ValueError):
    """The data exist but cannot be read as the reader's format (bad JSON, a missing field, parallel
    files of different lengths, duplicate ids)."""

    def __init__(self, message: str, key: str = "path") -> None:
        super().__init__(message)
        self.key = key


class SourceError(InvalidArgument, ValueError):
    """The source itself is wrong: an unknown reader name, a missing or bad option."""

    def __init__(self, message: str, key: str = "reader") -> None:
        super().__init__(message)
        self.key = key
