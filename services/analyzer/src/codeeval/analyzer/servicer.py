"""AnalyzerService servicer: translates protobuf messages to and from the grpc-free cores
(:mod:`analysis`, :mod:`scoring`) and runs them in worker threads; no analysis logic here."""

from __future__ import annotations

import asyncio
import time

import grpc

from codeeval.analyzer import analysis, scoring
from codeeval.analyzer.model import LANGUAGES, AnalysisResult, Summary, ToolInfo
from codeeval.analyzer.pmd import CATEGORIES
from codeeval.api.analyzer.v1 import analyzer_pb2, analyzer_pb2_grpc
from codeeval.api.common.v1 import common_pb2
from codeeval.kit import languages
from codeeval.kit.errors import InvalidArgument

_LANG_TO_PB = {lang.name: common_pb2.Language.Value(lang.proto_name) for lang in languages.LANGUAGES.values()}
_PB_TO_LANG: dict[int, str] = {v: k for k, v in _LANG_TO_PB.items()}
_PB_TO_LANG[common_pb2.LANGUAGE_UNSPECIFIED] = ""
_SEVERITY = {"info": analyzer_pb2.SEVERITY_INFO, "convention": analyzer_pb2.SEVERITY_CONVENTION,
             "refactor": analyzer_pb2.SEVERITY_REFACTOR, "warning": analyzer_pb2.SEVERITY_WARNING,
             "error": analyzer_pb2.SEVERITY_ERROR}


def language_name(field: str, value: int) -> str:
    if value not in _PB_TO_LANG:
        raise InvalidArgument(f"unknown language enum value {value}", field=field)
    return _PB_TO_LANG[value]


def tool_pb(tool: ToolInfo) -> common_pb2.ToolInfo:
    return common_pb2.ToolInfo(name=tool.name, version=tool.version, config=tool.config,
                               config_sha256=tool.config_sha256)


def summary_pb(s: Summary) -> analyzer_pb2.Summary:
    return analyzer_pb2.Summary(
        files=s.files, analyzable_files=s.analyzable_files, analyzable_rate=s.analyzable_rate, issues=s.issues,
        nloc=s.nloc, issues_per_kloc=s.issues_per_kloc, mean_cyclomatic_complexity=s.mean_cyclomatic_complexity,
        categories=[analyzer_pb2.CategoryCount(tool=c.tool, category=c.category, count=c.count, per_kloc=c.per_kloc)
                    for c in s.categories])


def analyze_response(result: AnalysisResult) -> analyzer_pb2.AnalyzeResponse:
    resp = analyzer_pb2.AnalyzeResponse(tools=[tool_pb(t) for t in result.tools])
    for r in result.files:
        m = r.metrics
        report = resp.files.add(
            path=r.path, language=_LANG_TO_PB[r.language], analyzable=r.analyzable, parse_error=r.parse_error,
            wrapped=r.wrapped, tool_errors=[analyzer_pb2.ToolError(tool=t, message=msg) for t, msg in r.tool_errors],
            findings=[analyzer_pb2.Finding(path=f.path, tool=f.tool, rule=f.rule, symbol=f.symbol,
                                           category=f.category,
                                           severity=_SEVERITY.get(f.severity, analyzer_pb2.SEVERITY_UNSPECIFIED),
                                           message=f.message, line=f.line, column=f.column) for f in r.findings],
            metrics=analyzer_pb2.FileMetrics(
                loc=m.loc, nloc=m.nloc, token_count=m.token_count,
                average_cyclomatic_complexity=m.average_cyclomatic_complexity,
                max_cyclomatic_complexity=m.max_cyclomatic_complexity, maintainability_index=m.maintainability_index,
                functions=[analyzer_pb2.FunctionMetrics(**vars(fn)) for fn in m.functions]))
        if r.passed is not None:
            report.passed = r.passed
    for lang, s in result.summary_all.items():
        resp.summary_all[lang].CopyFrom(summary_pb(s))
    for lang, s in result.summary_passing.items():
        resp.summary_passing[lang].CopyFrom(summary_pb(s))
    return resp


def score_response(result: scoring.ScoreResult) -> analyzer_pb2.ScoreResponse:
    def metric(m: scoring.Metric) -> analyzer_pb2.MetricValue:
        return analyzer_pb2.MetricValue(name=m.name, value=m.value, components=m.components)

    resp = analyzer_pb2.ScoreResponse(corpus=[metric(m) for m in result.corpus],
                                      tools=[tool_pb(t) for t in result.tools])
    for inst in result.instances:
        resp.instances.add(index=inst.index, metrics=[metric(m) for m in inst.metrics],
                           reference_overlap=inst.reference_overlap,
                           reference_verbatim_in_source=inst.reference_verbatim_in_source)
    if result.leakage is not None:
        resp.leakage.CopyFrom(analyzer_pb2.LeakageReport(**vars(result.leakage)))
    return resp


class AnalyzerServicer(analyzer_pb2_grpc.AnalyzerServiceServicer):
    def __init__(self, analyzer: analysis.Analyzer, scorer: scoring.Scorer, score_limits: scoring.ScoreLimits,
                 max_concurrent_batches: int = 1) -> None:
        self.analyzer = analyzer
        self.scorer = scorer
        self.score_limits = score_limits
        self._slots = asyncio.Semaphore(max_concurrent_batches)

    async def Analyze(self, request: analyzer_pb2.AnalyzeRequest,  # noqa: N802
                      context: grpc.aio.ServicerContext) -> analyzer_pb2.AnalyzeResponse:
        default = language_name("language", request.language)
        raw = [analysis.RawFile(path=f.file.path, content=f.file.content,
                                language=language_name(f"files[{i}].file.language", f.file.language),
                                passed=f.passed if f.HasField("passed") else None)
               for i, f in enumerate(request.files)]
        files = analysis.validate(raw, default, self.analyzer.limits)
        categories = analysis.validate_categories(list(request.java_categories))
        wrap = request.wrap_java_methods if request.HasField("wrap_java_methods") else True
        remaining = context.time_remaining()
        deadline = time.monotonic() + remaining if remaining is not None else None
        async with self._slots:
            result = await asyncio.to_thread(self.analyzer.analyze, files, categories, wrap, deadline)
        return analyze_response(result)

    async def Score(self, request: analyzer_pb2.ScoreRequest,  # noqa: N802
                    context: grpc.aio.ServicerContext) -> analyzer_pb2.ScoreResponse:
        hyps, refs, sources = list(request.hypotheses), list(request.references), list(request.sources)
        language = language_name("language", request.language)
        metrics = scoring.validate(hyps, refs, sources, language, list(request.metrics), self.score_limits)
        result = await asyncio.to_thread(self.scorer.score, hyps, refs, language, metrics, sources)
        return score_response(result)

    async def GetCapabilities(self, request: analyzer_pb2.GetCapabilitiesRequest,  # noqa: N802
                              context: grpc.aio.ServicerContext) -> analyzer_pb2.GetCapabilitiesResponse:
        return analyzer_pb2.GetCapabilitiesResponse(
            tools=[tool_pb(t) for t in [*self.analyzer.tools(), *self.scorer.tools()]],
            languages=[_LANG_TO_PB[lang] for lang in LANGUAGES], metrics=list(scoring.METRICS),
            java_categories=list(CATEGORIES), max_files=self.analyzer.limits.max_files,
            max_file_bytes=self.analyzer.limits.max_file_bytes, max_score_instances=self.score_limits.max_instances)
