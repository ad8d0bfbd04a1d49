from codeeval.api.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Mode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MODE_UNSPECIFIED: _ClassVar[Mode]
    MODE_RUN_TESTS: _ClassVar[Mode]
    MODE_COMPILE_ONLY: _ClassVar[Mode]
    MODE_RUN: _ClassVar[Mode]

class Outcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OUTCOME_UNSPECIFIED: _ClassVar[Outcome]
    OUTCOME_PASSED: _ClassVar[Outcome]
    OUTCOME_FAILED: _ClassVar[Outcome]
    OUTCOME_COMPILE_ERROR: _ClassVar[Outcome]
    OUTCOME_RUNTIME_ERROR: _ClassVar[Outcome]
    OUTCOME_TIMEOUT: _ClassVar[Outcome]
    OUTCOME_MEMORY_EXCEEDED: _ClassVar[Outcome]
    OUTCOME_OUTPUT_LIMIT_EXCEEDED: _ClassVar[Outcome]
    OUTCOME_SANDBOX_ERROR: _ClassVar[Outcome]
MODE_UNSPECIFIED: Mode
MODE_RUN_TESTS: Mode
MODE_COMPILE_ONLY: Mode
MODE_RUN: Mode
OUTCOME_UNSPECIFIED: Outcome
OUTCOME_PASSED: Outcome
OUTCOME_FAILED: Outcome
OUTCOME_COMPILE_ERROR: Outcome
OUTCOME_RUNTIME_ERROR: Outcome
OUTCOME_TIMEOUT: Outcome
OUTCOME_MEMORY_EXCEEDED: Outcome
OUTCOME_OUTPUT_LIMIT_EXCEEDED: Outcome
OUTCOME_SANDBOX_ERROR: Outcome

class Limits(_message.Message):
    __slots__ = ("wall_time_ms", "cpu_time_ms", "memory_bytes", "output_bytes", "max_processes", "max_file_bytes")
    WALL_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    CPU_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_PROCESSES_FIELD_NUMBER: _ClassVar[int]
    MAX_FILE_BYTES_FIELD_NUMBER: _ClassVar[int]
    wall_time_ms: int
    cpu_time_ms: int
    memory_bytes: int
    output_bytes: int
    max_processes: int
    max_file_bytes: int
    def __init__(self, wall_time_ms: _Optional[int] = ..., cpu_time_ms: _Optional[int] = ..., memory_bytes: _Optional[int] = ..., output_bytes: _Optional[int] = ..., max_processes: _Optional[int] = ..., max_file_bytes: _Optional[int] = ...) -> None: ...

class TimeCalibration(_message.Message):
    __slots__ = ("reference_source", "factor", "floor_ms")
    REFERENCE_SOURCE_FIELD_NUMBER: _ClassVar[int]
    FACTOR_FIELD_NUMBER: _ClassVar[int]
    FLOOR_MS_FIELD_NUMBER: _ClassVar[int]
    reference_source: bytes
    factor: float
    floor_ms: int
    def __init__(self, reference_source: _Optional[bytes] = ..., factor: _Optional[float] = ..., floor_ms: _Optional[int] = ...) -> None: ...

class CalibrationRecord(_message.Message):
    __slots__ = ("reference_wall_ms", "factor", "floor_ms", "wall_time_ms", "reference_failed")
    REFERENCE_WALL_MS_FIELD_NUMBER: _ClassVar[int]
    FACTOR_FIELD_NUMBER: _ClassVar[int]
    FLOOR_MS_FIELD_NUMBER: _ClassVar[int]
    WALL_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FAILED_FIELD_NUMBER: _ClassVar[int]
    reference_wall_ms: int
    factor: float
    floor_ms: int
    wall_time_ms: int
    reference_failed: bool
    def __init__(self, reference_wall_ms: _Optional[int] = ..., factor: _Optional[float] = ..., floor_ms: _Optional[int] = ..., wall_time_ms: _Optional[int] = ..., reference_failed: _Optional[bool] = ...) -> None: ...

class TableTest(_message.Message):
    __slots__ = ("reference_source", "inputs", "atol")
    REFERENCE_SOURCE_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    ATOL_FIELD_NUMBER: _ClassVar[int]
    reference_source: bytes
    inputs: _containers.RepeatedScalarFieldContainer[str]
    atol: float
    def __init__(self, reference_source: _Optional[bytes] = ..., inputs: _Optional[_Iterable[str]] = ..., atol: _Optional[float] = ...) -> None: ...

class Program(_message.Message):
    __slots__ = ("language", "source", "test", "entry_point", "mode", "stdin", "extra_files", "table")
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TEST_FIELD_NUMBER: _ClassVar[int]
    ENTRY_POINT_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    STDIN_FIELD_NUMBER: _ClassVar[int]
    EXTRA_FILES_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    language: _common_pb2.Language
    source: bytes
    test: bytes
    entry_point: str
    mode: Mode
    stdin: bytes
    extra_files: _containers.RepeatedCompositeFieldContainer[_common_pb2.SourceFile]
    table: TableTest
    def __init__(self, language: _Optional[_Union[_common_pb2.Language, str]] = ..., source: _Optional[bytes] = ..., test: _Optional[bytes] = ..., entry_point: _Optional[str] = ..., mode: _Optional[_Union[Mode, str]] = ..., stdin: _Optional[bytes] = ..., extra_files: _Optional[_Iterable[_Union[_common_pb2.SourceFile, _Mapping]]] = ..., table: _Optional[_Union[TableTest, _Mapping]] = ...) -> None: ...

class ExecuteRequest(_message.Message):
    __slots__ = ("id", "program", "limits", "calibration")
    ID_FIELD_NUMBER: _ClassVar[int]
    PROGRAM_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    CALIBRATION_FIELD_NUMBER: _ClassVar[int]
    id: str
    program: Program
    limits: Limits
    calibration: TimeCalibration
    def __init__(self, id: _Optional[str] = ..., program: _Optional[_Union[Program, _Mapping]] = ..., limits: _Optional[_Union[Limits, _Mapping]] = ..., calibration: _Optional[_Union[TimeCalibration, _Mapping]] = ...) -> None: ...

class ExecutionResult(_message.Message):
    __slots__ = ("id", "outcome", "exit_code", "signal", "stdout", "stderr", "stdout_truncated", "stderr_truncated", "wall_time_ms", "cpu_time_ms", "peak_memory_bytes", "compile_output", "detail", "attempts", "effective_limits", "calibration", "backend")
    ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_FIELD_NUMBER: _ClassVar[int]
    STDOUT_FIELD_NUMBER: _ClassVar[int]
    STDERR_FIELD_NUMBER: _ClassVar[int]
    STDOUT_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    STDERR_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    WALL_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    CPU_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    PEAK_MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    COMPILE_OUTPUT_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_LIMITS_FIELD_NUMBER: _ClassVar[int]
    CALIBRATION_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    id: str
    outcome: Outcome
    exit_code: int
    signal: int
    stdout: bytes
    stderr: bytes
    stdout_truncated: bool
    stderr_truncated: bool
    wall_time_ms: int
    cpu_time_ms: int
    peak_memory_bytes: int
    compile_output: str
    detail: str
    attempts: int
    effective_limits: Limits
    calibration: CalibrationRecord
    backend: str
    def __init__(self, id: _Optional[str] = ..., outcome: _Optional[_Union[Outcome, str]] = ..., exit_code: _Optional[int] = ..., signal: _Optional[int] = ..., stdout: _Optional[bytes] = ..., stderr: _Optional[bytes] = ..., stdout_truncated: _Optional[bool] = ..., stderr_truncated: _Optional[bool] = ..., wall_time_ms: _Optional[int] = ..., cpu_time_ms: _Optional[int] = ..., peak_memory_bytes: _Optional[int] = ..., compile_output: _Optional[str] = ..., detail: _Optional[str] = ..., attempts: _Optional[int] = ..., effective_limits: _Optional[_Union[Limits, _Mapping]] = ..., calibration: _Optional[_Union[CalibrationRecord, _Mapping]] = ..., backend: _Optional[str] = ...) -> None: ...

class ExecuteResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: ExecutionResult
    def __init__(self, result: _Optional[_Union[ExecutionResult, _Mapping]] = ...) -> None: ...

class ExecuteBatchRequest(_message.Message):
    __slots__ = ("requests",)
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    requests: _containers.RepeatedCompositeFieldContainer[ExecuteRequest]
    def __init__(self, requests: _Optional[_Iterable[_Union[ExecuteRequest, _Mapping]]] = ...) -> None: ...

class ExecuteBatchResponse(_message.Message):
    __slots__ = ("index", "result")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    index: int
    result: ExecutionResult
    def __init__(self, index: _Optional[int] = ..., result: _Optional[_Union[ExecutionResult, _Mapping]] = ...) -> None: ...

class GetCapabilitiesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class LanguageSupport(_message.Message):
    __slots__ = ("language", "toolchain", "modes", "notes")
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    TOOLCHAIN_FIELD_NUMBER: _ClassVar[int]
    MODES_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    language: _common_pb2.Language
    toolchain: _containers.RepeatedCompositeFieldContainer[_common_pb2.ToolInfo]
    modes: _containers.RepeatedScalarFieldContainer[Mode]
    notes: str
    def __init__(self, language: _Optional[_Union[_common_pb2.Language, str]] = ..., toolchain: _Optional[_Iterable[_Union[_common_pb2.ToolInfo, _Mapping]]] = ..., modes: _Optional[_Iterable[_Union[Mode, str]]] = ..., notes: _Optional[str] = ...) -> None: ...

class GetCapabilitiesResponse(_message.Message):
    __slots__ = ("languages", "backend", "backend_version", "default_limits", "max_limits", "max_concurrency", "max_queue", "max_batch_size", "max_source_bytes")
    LANGUAGES_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    BACKEND_VERSION_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_LIMITS_FIELD_NUMBER: _ClassVar[int]
    MAX_LIMITS_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENCY_FIELD_NUMBER: _ClassVar[int]
    MAX_QUEUE_FIELD_NUMBER: _ClassVar[int]
    MAX_BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    MAX_SOURCE_BYTES_FIELD_NUMBER: _ClassVar[int]
    languages: _containers.RepeatedCompositeFieldContainer[LanguageSupport]
    backend: str
    backend_version: str
    default_limits: Limits
    max_limits: Limits
    max_concurrency: int
    max_queue: int
    max_batch_size: int
    max_source_bytes: int
    def __init__(self, languages: _Optional[_Iterable[_Union[LanguageSupport, _Mapping]]] = ..., backend: _Optional[str] = ..., backend_version: _Optional[str] = ..., default_limits: _Optional[_Union[Limits, _Mapping]] = ..., max_limits: _Optional[_Union[Limits, _Mapping]] = ..., max_concurrency: _Optional[int] = ..., max_queue: _Optional[int] = ..., max_batch_size: _Optional[int] = ..., max_source_bytes: _Optional[int] = ...) -> None: ...
