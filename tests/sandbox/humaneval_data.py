"""HumanEval problems as published (read from the shared dataset path) and requests built from them."""

from __future__ import annotations

from pathlib import Path

from codeeval.api.common.v1 import common_pb2
from codeeval.api.sandbox.v1 import sandbox_pb2
from codeeval.data import read_records


def load(path: Path) -> list[dict[str, str]]:
    return list(read_records(path))


def broken_completion(problem: dict[str, str]) -> str:
    """A body that returns None: must fail every task's tests."""
    return "    return None\n"


def request(problem: dict[str, str], completion: str, rid: str, wall_ms: int = 20000) -> sandbox_pb2.ExecuteRequest:
    return sandbox_pb2.ExecuteRequest(
        id=rid,
        program=sandbox_pb2.Program(language=common_pb2.LANGUAGE_PYTHON,
                                    source=(problem["prompt"] + completion).encode(),
                                    test=problem["test"].encode(), entry_point=problem["entry_point"]),
        limits=sandbox_pb2.Limits(wall_time_ms=wall_ms),
    )
