from codeeval.api.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Severity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEVERITY_UNSPECIFIED: _ClassVar[Severity]
    SEVERITY_INFO: _ClassVar[Severity]
    SEVERITY_CONVENTION: _ClassVar[Severity]
    SEVERITY_REFACTOR: _ClassVar[Severity]
    SEVERITY_WARNING: _ClassVar[Severity]
    SEVERITY_ERROR: _ClassVar[Severity]
SEVERITY_UNSPECIFIED: Severity
SEVERITY_INFO: Severity
SEVERITY_CONVENTION: Severity
SEVERITY_REFACTOR: Severity
SEVERITY_WARNING: Severity
SEVERITY_ERROR: Severity

class AnalyzedFile(_message.Message):
    __slots__ = ("file", "passed")
    FILE_FIELD_NUMBER: _ClassVar[int]
    PASSED_FIELD_NUMBER: _ClassVar[int]
    file: _common_pb2.SourceFile
    passed: bool
    def __init__(self, file: _Optional[_Union[_common_pb2.SourceFile, _Mapping]] = ..., passed: _Optional[bool] = ...) -> None: ...

class AnalyzeRequest(_message.Message):
    __slots__ = ("files", "language", "java_categories", "wrap_java_methods")
    FILES_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    JAVA_CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    WRAP_JAVA_METHODS_FIELD_NUMBER: _ClassVar[int]
    files: _containers.RepeatedCompositeFieldContainer[AnalyzedFile]
    language: _common_pb2.Language
    java_categories: _containers.RepeatedScalarFieldContainer[str]
    wrap_java_methods: bool
    def __init__(self, files: _Optional[_Iterable[_Union[AnalyzedFile, _Mapping]]] = ..., language: _Optional[_Union[_common_pb2.Language, str]] = ..., java_categories: _Optional[_Iterable[str]] = ..., wrap_java_methods: _Optional[bool] = ...) -> None: ...

class Finding(_message.Message):
    __slots__ = ("path", "tool", "rule", "symbol", "category", "severity", "message", "line", "column")
    PATH_FIELD_NUMBER: _ClassVar[int]
    TOOL_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    path: str
    tool: str
    rule: str
    symbol: str
    category: str
    severity: Severity
    message: str
    line: int
    column: int
    def __init__(self, path: _Optional[str] = ..., tool: _Optional[str] = ..., rule: _Optional[str] = ..., symbol: _Optional[str] = ..., category: _Optional[str] = ..., severity: _Optional[_Union[Severity, str]] = ..., message: _Optional[str] = ..., line: _Optional[int] = ..., column: _Optional[int] = ...) -> None: ...

class FunctionMetrics(_message.Message):
    __slots__ = ("name", "start_line", "end_line", "cyclomatic_complexity", "nloc", "token_count", "parameter_count")
    NAME_FIELD_NUMBER: _ClassVar[int]
    START_LINE_FIELD_NUMBER: _ClassVar[int]
    END_LINE_FIELD_NUMBER: _ClassVar[int]
    CYCLOMATIC_COMPLEXITY_FIELD_NUMBER: _ClassVar[int]
    NLOC_FIELD_NUMBER: _ClassVar[int]
    TOKEN_COUNT_FIELD_NUMBER: _ClassVar[int]
    PARAMETER_COUNT_FIELD_NUMBER: _ClassVar[int]
    name: str
    start_line: int
    end_line: int
    cyclomatic_complexity: int
    nloc: int
    token_count: int
    parameter_count: int
    def __init__(self, name: _Optional[str] = ..., start_line: _Optional[int] = ..., end_line: _Optional[int] = ..., cyclomatic_complexity: _Optional[int] = ..., nloc: _Optional[int] = ..., token_count: _Optional[int] = ..., parameter_count: _Optional[int] = ...) -> None: ...

class FileMetrics(_message.Message):
    __slots__ = ("loc", "nloc", "token_count", "average_cyclomatic_complexity", "max_cyclomatic_complexity", "maintainability_index", "functions")
    LOC_FIELD_NUMBER: _ClassVar[int]
    NLOC_FIELD_NUMBER: _ClassVar[int]
    TOKEN_COUNT_FIELD_NUMBER: _ClassVar[int]
    AVERAGE_CYCLOMATIC_COMPLEXITY_FIELD_NUMBER: _ClassVar[int]
    MAX_CYCLOMATIC_COMPLEXITY_FIELD_NUMBER: _ClassVar[int]
    MAINTAINABILITY_INDEX_FIELD_NUMBER: _ClassVar[int]
    FUNCTIONS_FIELD_NUMBER: _ClassVar[int]
    loc: int
    nloc: int
    token_count: int
    average_cyclomatic_complexity: float
    max_cyclomatic_complexity: int
    maintainability_index: float
    functions: _containers.RepeatedCompositeFieldContainer[FunctionMetrics]
    def __init__(self, loc: _Optional[int] = ..., nloc: _Optional[int] = ..., token_count: _Optional[int] = ..., average_cyclomatic_complexity: _Optional[float] = ..., max_cyclomatic_complexity: _Optional[int] = ..., maintainability_index: _Optional[float] = ..., functions: _Optional[_Iterable[_Union[FunctionMetrics, _Mapping]]] = ...) -> None: ...

class ToolError(_message.Message):
    __slots__ = ("tool", "message")
    TOOL_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    tool: str
    message: str
    def __init__(self, tool: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class FileReport(_message.Message):
    __slots__ = ("path", "language", "analyzable", "parse_error", "wrapped", "findings", "metrics", "tool_errors", "passed")
    PATH_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    ANALYZABLE_FIELD_NUMBER: _ClassVar[int]
    PARSE_ERROR_FIELD_NUMBER: _ClassVar[int]
    WRAPPED_FIELD_NUMBER: _ClassVar[int]
    FINDINGS_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    TOOL_ERRORS_FIELD_NUMBER: _ClassVar[int]
    PASSED_FIELD_NUMBER: _ClassVar[int]
    path: str
    language: _common_pb2.Language
    analyzable: bool
    parse_error: str
    wrapped: bool
    findings: _containers.RepeatedCompositeFieldContainer[Finding]
    metrics: FileMetrics
    tool_errors: _containers.RepeatedCompositeFieldContainer[ToolError]
    passed: bool
    def __init__(self, path: _Optional[str] = ..., language: _Optional[_Union[_common_pb2.Language, str]] = ..., analyzable: _Optional[bool] = ..., parse_error: _Optional[str] = ..., wrapped: _Optional[bool] = ..., findings: _Optional[_Iterable[_Union[Finding, _Mapping]]] = ..., metrics: _Optional[_Union[FileMetrics, _Mapping]] = ..., tool_errors: _Optional[_Iterable[_Union[ToolError, _Mapping]]] = ..., passed: _Optional[bool] = ...) -> None: ...

class CategoryCount(_message.Message):
    __slots__ = ("tool", "category", "count", "per_kloc")
    TOOL_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    PER_KLOC_FIELD_NUMBER: _ClassVar[int]
    tool: str
    category: str
    count: int
    per_kloc: float
    def __init__(self, tool: _Optional[str] = ..., category: _Optional[str] = ..., count: _Optional[int] = ..., per_kloc: _Optional[float] = ...) -> None: ...

class Summary(_message.Message):
    __slots__ = ("files", "analyzable_files", "analyzable_rate", "issues", "nloc", "issues_per_kloc", "mean_cyclomatic_complexity", "categories")
    FILES_FIELD_NUMBER: _ClassVar[int]
    ANALYZABLE_FILES_FIELD_NUMBER: _ClassVar[int]
    ANALYZABLE_RATE_FIELD_NUMBER: _ClassVar[int]
    ISSUES_FIELD_NUMBER: _ClassVar[int]
    NLOC_FIELD_NUMBER: _ClassVar[int]
    ISSUES_PER_KLOC_FIELD_NUMBER: _ClassVar[int]
    MEAN_CYCLOMATIC_COMPLEXITY_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    files: int
    analyzable_files: int
    analyzable_rate: float
    issues: int
    nloc: int
    issues_per_kloc: float
    mean_cyclomatic_complexity: float
    categories: _containers.RepeatedCompositeFieldContainer[CategoryCount]
    def __init__(self, files: _Optional[int] = ..., analyzable_files: _Optional[int] = ..., analyzable_rate: _Optional[float] = ..., issues: _Optional[int] = ..., nloc: _Optional[int] = ..., issues_per_kloc: _Optional[float] = ..., mean_cyclomatic_complexity: _Optional[float] = ..., categories: _Optional[_Iterable[_Union[CategoryCount, _Mapping]]] = ...) -> None: ...

class AnalyzeResponse(_message.Message):
    __slots__ = ("files", "summary_all", "summary_passing", "tools")
    class SummaryAllEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Summary
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Summary, _Mapping]] = ...) -> None: ...
    class SummaryPassingEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Summary
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Summary, _Mapping]] = ...) -> None: ...
    FILES_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_ALL_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_PASSING_FIELD_NUMBER: _ClassVar[int]
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    files: _containers.RepeatedCompositeFieldContainer[FileReport]
    summary_all: _containers.MessageMap[str, Summary]
    summary_passing: _containers.MessageMap[str, Summary]
    tools: _containers.RepeatedCompositeFieldContainer[_common_pb2.ToolInfo]
    def __init__(self, files: _Optional[_Iterable[_Union[FileReport, _Mapping]]] = ..., summary_all: _Optional[_Mapping[str, Summary]] = ..., summary_passing: _Optional[_Mapping[str, Summary]] = ..., tools: _Optional[_Iterable[_Union[_common_pb2.ToolInfo, _Mapping]]] = ...) -> None: ...

class ScoreRequest(_message.Message):
    __slots__ = ("hypotheses", "references", "language", "metrics", "sources")
    HYPOTHESES_FIELD_NUMBER: _ClassVar[int]
    REFERENCES_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    hypotheses: _containers.RepeatedScalarFieldContainer[str]
    references: _containers.RepeatedScalarFieldContainer[str]
    language: _common_pb2.Language
    metrics: _containers.RepeatedScalarFieldContainer[str]
    sources: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, hypotheses: _Optional[_Iterable[str]] = ..., references: _Optional[_Iterable[str]] = ..., language: _Optional[_Union[_common_pb2.Language, str]] = ..., metrics: _Optional[_Iterable[str]] = ..., sources: _Optional[_Iterable[str]] = ...) -> None: ...

class MetricValue(_message.Message):
    __slots__ = ("name", "value", "components")
    class ComponentsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    COMPONENTS_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: float
    components: _containers.ScalarMap[str, float]
    def __init__(self, name: _Optional[str] = ..., value: _Optional[float] = ..., components: _Optional[_Mapping[str, float]] = ...) -> None: ...

class InstanceScore(_message.Message):
    __slots__ = ("index", "metrics", "reference_overlap", "reference_verbatim_in_source")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_OVERLAP_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_VERBATIM_IN_SOURCE_FIELD_NUMBER: _ClassVar[int]
    index: int
    metrics: _containers.RepeatedCompositeFieldContainer[MetricValue]
    reference_overlap: float
    reference_verbatim_in_source: bool
    def __init__(self, index: _Optional[int] = ..., metrics: _Optional[_Iterable[_Union[MetricValue, _Mapping]]] = ..., reference_overlap: _Optional[float] = ..., reference_verbatim_in_source: _Optional[bool] = ...) -> None: ...

class LeakageReport(_message.Message):
    __slots__ = ("instances", "verbatim", "verbatim_rate", "mean_overlap")
    INSTANCES_FIELD_NUMBER: _ClassVar[int]
    VERBATIM_FIELD_NUMBER: _ClassVar[int]
    VERBATIM_RATE_FIELD_NUMBER: _ClassVar[int]
    MEAN_OVERLAP_FIELD_NUMBER: _ClassVar[int]
    instances: int
    verbatim: int
    verbatim_rate: float
    mean_overlap: float
    def __init__(self, instances: _Optional[int] = ..., verbatim: _Optional[int] = ..., verbatim_rate: _Optional[float] = ..., mean_overlap: _Optional[float] = ...) -> None: ...

class ScoreResponse(_message.Message):
    __slots__ = ("corpus", "instances", "leakage", "tools")
    CORPUS_FIELD_NUMBER: _ClassVar[int]
    INSTANCES_FIELD_NUMBER: _ClassVar[int]
    LEAKAGE_FIELD_NUMBER: _ClassVar[int]
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    corpus: _containers.RepeatedCompositeFieldContainer[MetricValue]
    instances: _containers.RepeatedCompositeFieldContainer[InstanceScore]
    leakage: LeakageReport
    tools: _containers.RepeatedCompositeFieldContainer[_common_pb2.ToolInfo]
    def __init__(self, corpus: _Optional[_Iterable[_Union[MetricValue, _Mapping]]] = ..., instances: _Optional[_Iterable[_Union[InstanceScore, _Mapping]]] = ..., leakage: _Optional[_Union[LeakageReport, _Mapping]] = ..., tools: _Optional[_Iterable[_Union[_common_pb2.ToolInfo, _Mapping]]] = ...) -> None: ...

class GetCapabilitiesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetCapabilitiesResponse(_message.Message):
    __slots__ = ("tools", "languages", "metrics", "java_categories", "max_files", "max_file_bytes", "max_score_instances")
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    LANGUAGES_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    JAVA_CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    MAX_FILES_FIELD_NUMBER: _ClassVar[int]
    MAX_FILE_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_SCORE_INSTANCES_FIELD_NUMBER: _ClassVar[int]
    tools: _containers.RepeatedCompositeFieldContainer[_common_pb2.ToolInfo]
    languages: _containers.RepeatedScalarFieldContainer[_common_pb2.Language]
    metrics: _containers.RepeatedScalarFieldContainer[str]
    java_categories: _containers.RepeatedScalarFieldContainer[str]
    max_files: int
    max_file_bytes: int
    max_score_instances: int
    def __init__(self, tools: _Optional[_Iterable[_Union[_common_pb2.ToolInfo, _Mapping]]] = ..., languages: _Optional[_Iterable[_Union[_common_pb2.Language, str]]] = ..., metrics: _Optional[_Iterable[str]] = ..., java_categories: _Optional[_Iterable[str]] = ..., max_files: _Optional[int] = ..., max_file_bytes: _Optional[int] = ..., max_score_instances: _Optional[int] = ...) -> None: ...
