"""The enums of the stage records, tied to the protos by value (never by munging names).

:class:`Outcome` is ``codeeval.sandbox.v1.Outcome`` plus two verdicts the client gives without a
run: ``NOT_RUN`` (the sandbox cannot run that language/mode) and ``NO_CODE`` (the answer had no
code). ``SANDBOX_ERROR`` and ``NOT_RUN`` are infrastructure, never a model failure: pass@k leaves
them out of n and c and counts them. JSON carries the short name (``"PASSED"``), as run folders
always have.
"""

from __future__ import annotations

import enum
from typing import cast

from codeeval.api.generator.v1 import generator_pb2
from codeeval.api.sandbox.v1 import sandbox_pb2


class Outcome(enum.IntEnum):
    UNSPECIFIED = sandbox_pb2.OUTCOME_UNSPECIFIED
    PASSED = sandbox_pb2.OUTCOME_PASSED
    FAILED = sandbox_pb2.OUTCOME_FAILED
    COMPILE_ERROR = sandbox_pb2.OUTCOME_COMPILE_ERROR
    RUNTIME_ERROR = sandbox_pb2.OUTCOME_RUNTIME_ERROR
    TIMEOUT = sandbox_pb2.OUTCOME_TIMEOUT
    MEMORY_EXCEEDED = sandbox_pb2.OUTCOME_MEMORY_EXCEEDED
    OUTPUT_LIMIT_EXCEEDED = sandbox_pb2.OUTCOME_OUTPUT_LIMIT_EXCEEDED
    SANDBOX_ERROR = sandbox_pb2.OUTCOME_SANDBOX_ERROR
    #: Client-side verdicts (not in the proto): no run was made.
    NOT_RUN = 1001
    NO_CODE = 1002

    @classmethod
    def from_proto(cls, value: int) -> Outcome:
        """The outcome of a ``sandbox.v1.Outcome`` value (an unknown value is UNSPECIFIED)."""
        return cls(value) if value in _PROTO_VALUES else cls.UNSPECIFIED

    @classmethod
    def from_json(cls, name: str) -> Outcome:
        return cls[name]

    def to_json(self) -> str:
        return self.name

    @property
    def infrastructure(self) -> bool:
        """The run says nothing about the model (excluded from pass@k, counted and shown)."""
        return self in (Outcome.SANDBOX_ERROR, Outcome.NOT_RUN)

    @property
    def compiled(self) -> bool:
        """The program got past compilation (meaningful only when not infrastructure)."""
        return self not in (Outcome.COMPILE_ERROR, Outcome.NO_CODE)


_PROTO_VALUES = frozenset(sandbox_pb2.Outcome.values())


class Mode(enum.StrEnum):
    """What the sandbox does with a program; ``NONE``: nothing to execute (summaries, empty answers)."""

    RUN_TESTS = "run_tests"
    COMPILE_ONLY = "compile_only"
    NONE = "none"

    def to_proto(self) -> sandbox_pb2.Mode:
        if self is Mode.NONE:
            raise ValueError("mode none has no sandbox mode: nothing to execute")
        return _MODE_PB[self]

    @classmethod
    def from_proto(cls, value: int) -> Mode:
        back: dict[int, Mode] = {v: k for k, v in _MODE_PB.items()}
        return back.get(value, Mode.RUN_TESTS)


_MODE_PB: dict[Mode, sandbox_pb2.Mode] = {Mode.RUN_TESTS: cast(sandbox_pb2.Mode, sandbox_pb2.MODE_RUN_TESTS),
                                           Mode.COMPILE_ONLY: cast(sandbox_pb2.Mode, sandbox_pb2.MODE_COMPILE_ONLY)}


class FinishReason(enum.IntEnum):
    UNSPECIFIED = generator_pb2.FINISH_REASON_UNSPECIFIED
    STOP = generator_pb2.FINISH_REASON_STOP
    LENGTH = generator_pb2.FINISH_REASON_LENGTH

    @classmethod
    def from_proto(cls, value: int) -> FinishReason:
        return cls(value) if value in {m.value for m in cls} else cls.UNSPECIFIED

    @classmethod
    def from_json(cls, name: str) -> FinishReason:
        """``FINISH_REASON_STOP`` (the proto name, as generations.jsonl has always held it)."""
        return cls[name.removeprefix("FINISH_REASON_")]

    def to_json(self) -> str:
        return f"FINISH_REASON_{self.name}"
