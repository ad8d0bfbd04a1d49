"""Plain data the analyzer core produces; the servicer turns these into protobuf messages."""

from __future__ import annotations

from dataclasses import dataclass, field

from codeeval.kit import languages

LANGUAGES = languages.NAMES
EXTENSIONS = {lang.suffix: lang.name for lang in languages.LANGUAGES.values()}


@dataclass(frozen=True)
class ToolInfo:
    name: str
    version: str
    config: str = ""
    config_sha256: str = ""


@dataclass(frozen=True)
class SourceInput:
    """One file to analyse: ``language`` is already resolved to one of :data:`LANGUAGES`."""

    path: str
    text: str
    language: str
    passed: bool | None = None


@dataclass
class Finding:
    path: str
    tool: str
    rule: str
    symbol: str
    category: str
    severity: str  # info | convention | refactor | warning | error
    message: str
    line: int
    column: int = 0


@dataclass
class FunctionMetrics:
    name: str
    start_line: int
    end_line: int
    cyclomatic_complexity: int
    nloc: int
    token_count: int
    parameter_count: int


@dataclass
class FileMetrics:
    loc: int = 0
    nloc: int = 0
    token_count: int = 0
    average_cyclomatic_complexity: float = 0.0
    max_cyclomatic_complexity: int = 0
    maintainability_index: float = 0.0
    functions: list[FunctionMetrics] = field(default_factory=list)


@dataclass
class FileReport:
    path: str
    language: str
    analyzable: bool = False
    parse_error: str = ""
    wrapped: bool = False
    findings: list[Finding] = field(default_factory=list)
    metrics: FileMetrics = field(default_factory=FileMetrics)
    tool_errors: list[tuple[str, str]] = field(default_factory=list)
    passed: bool | None = None


@dataclass
class CategoryCount:
    tool: str
    category: str
    count: int
    per_kloc: float


@dataclass
class Summary:
    files: int
    analyzable_files: int
    analyzable_rate: float
    issues: int
    nloc: int
    issues_per_kloc: float
    mean_cyclomatic_complexity: float
    categories: list[CategoryCount]


@dataclass
class AnalysisResult:
    files: list[FileReport]
    summary_all: dict[str, Summary]
    summary_passing: dict[str, Summary]
    tools: list[ToolInfo]
