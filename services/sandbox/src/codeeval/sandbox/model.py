"""Core types of the sandbox (grpc-free): languages, modes, outcomes, limits, run requests and results.

The servicer translates these to and from the v1 protobuf messages; tests and the CLI use them
directly.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace


class Language(enum.Enum):
    PYTHON = "python"
    JAVA = "java"
    CSHARP = "csharp"


class Mode(enum.Enum):
    RUN_TESTS = "run_tests"
    COMPILE_ONLY = "compile_only"
    RUN = "run"


class Outcome(enum.Enum):
    PASSED = "PASSED"
    FAILED = "FAILED"
    COMPILE_ERROR = "COMPILE_ERROR"
    RUNTIME_ERROR = "RUNTIME_ERROR"
    TIMEOUT = "TIMEOUT"
    MEMORY_EXCEEDED = "MEMORY_EXCEEDED"
    OUTPUT_LIMIT_EXCEEDED = "OUTPUT_LIMIT_EXCEEDED"
    SANDBOX_ERROR = "SANDBOX_ERROR"


@dataclass(frozen=True)
class Limits:
    """Resource limits of one run. In requests, 0 means "the service default"."""

    wall_time_ms: int = 0
    cpu_time_ms: int = 0
    memory_bytes: int = 0
    output_bytes: int = 0
    max_processes: int = 0
    max_file_bytes: int = 0

    def with_defaults(self, defaults: Limits) -> Limits:
        """Each zero field replaced by the default's value."""
        return Limits(**{k: getattr(self, k) or getattr(defaults, k) for k in self.__dataclass_fields__})

    def as_dict(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class Calibration:
    """Calibrate the wall limit to a reference solution: ``max(floor_ms, factor * reference wall)``."""

    reference_source: str
    factor: float = 0.0
    floor_ms: int = 0


@dataclass(frozen=True)
class CalibrationRecord:
    reference_wall_ms: int
    factor: float
    floor_ms: int
    wall_time_ms: int
    reference_failed: bool = False


@dataclass(frozen=True)
class TableTest:
    """Python input/expected table (EvalPlus ``base_input``/``plus_input`` style): the judge computes
    each expected output by calling ``entry_point`` of ``reference_source`` (trusted, run in the
    judge) on the input, then compares the candidate's answer: floats with ``math.isclose``
    (``abs_tol=atol``, ``rel_tol=1e-7``), containers item by item, anything else with ``==``.
    Each input is a JSON array of the call's positional arguments."""

    reference_source: str
    inputs: tuple[str, ...]
    atol: float = 0.0


@dataclass(frozen=True)
class RunRequest:
    """One program to run. ``test`` and ``entry_point`` follow the language's convention (see the proto)."""

    language: Language
    source: str
    test: str = ""
    entry_point: str = ""
    mode: Mode = Mode.RUN_TESTS
    stdin: bytes = b""
    extra_files: tuple[tuple[str, str], ...] = ()
    limits: Limits = field(default_factory=Limits)
    calibration: Calibration | None = None
    id: str = ""
    table: TableTest | None = None

    def evolve(self, **changes: object) -> RunRequest:
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass
class RunResult:
    """What one run ended in. ``detail`` is a short explanation for people, never a host traceback."""

    outcome: Outcome
    id: str = ""
    exit_code: int = 0
    signal: int = 0
    stdout: bytes = b""
    stderr: bytes = b""
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    wall_time_ms: int = 0
    cpu_time_ms: int = 0
    peak_memory_bytes: int = 0
    compile_output: str = ""
    detail: str = ""
    attempts: int = 1
    effective_limits: Limits = field(default_factory=Limits)
    calibration: CalibrationRecord | None = None
    backend: str = ""

    @property
    def passed(self) -> bool:
        return self.outcome is Outcome.PASSED


@dataclass
class ProcessResult:
    """What an isolation backend observed about one sandboxed command (before any interpretation)."""

    exit_code: int
    signal: int = 0
    stdout: bytes = b""
    stderr: bytes = b""
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    stderr_tail: bytes = b""
    output_exceeded: bool = False
    timed_out: bool = False
    cpu_exceeded: bool = False
    oom_killed: bool = False
    wall_time_ms: int = 0
    cpu_time_ms: int = 0
    peak_memory_bytes: int = 0
    sandbox_failure: str = ""
