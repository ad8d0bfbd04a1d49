"""A sandbox replica that listens before its executor has started answers UNAVAILABLE on every RPC
(a client retries it), never an empty capability list that reads as "this sandbox runs nothing"."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from codeeval.api.common.v1 import common_pb2
from codeeval.api.sandbox.v1 import sandbox_pb2
from codeeval.kit.errors import Unavailable
from codeeval.sandbox.servicer import SandboxServicer
from codeeval.sandbox.settings import SandboxSettings


def starting_servicer() -> SandboxServicer:
    """An executor with nothing but its start state: any use of it beyond that is an AttributeError."""
    executor = SimpleNamespace(started=False, capabilities=None, settings=SandboxSettings.load())
    return SandboxServicer(executor)  # type: ignore[arg-type]


def program() -> sandbox_pb2.ExecuteRequest:
    return sandbox_pb2.ExecuteRequest(program=sandbox_pb2.Program(language=common_pb2.LANGUAGE_PYTHON,
                                                                  source=b"x = 1"))


def test_capabilities_while_starting_are_unavailable():
    with pytest.raises(Unavailable, match="still starting"):
        asyncio.run(starting_servicer().GetCapabilities(sandbox_pb2.GetCapabilitiesRequest(), None))  # type: ignore[arg-type]


def test_execute_while_starting_is_unavailable():
    with pytest.raises(Unavailable, match="still starting"):
        asyncio.run(starting_servicer().Execute(program(), None))  # type: ignore[arg-type]


def test_execute_batch_while_starting_is_unavailable():
    async def first() -> object:
        stream = starting_servicer().ExecuteBatch(sandbox_pb2.ExecuteBatchRequest(requests=[program()]), None)  # type: ignore[arg-type]
        return await stream.__anext__()

    with pytest.raises(Unavailable, match="still starting"):
        asyncio.run(first())
