"""Typed client of the analyzer service: Analyze into :class:`~codeeval.records.FileAnalysis`
records matched back to the caller's ids plus the analyzer's own summaries, and Score into
per-instance metrics, corpus values and the analyzer's leakage report.

Files are matched back by id: each file's path is ``<id>.<extension>``; the analyzer answers one
report per file in request order, and a report whose path is not the id sent is an error (never a
silent mismatch). Analyze and Score are unary and idempotent: a call lost to UNAVAILABLE (a
replica that died mid-call, behind an address list) is sent again whole, within the client's
``wait_s``, and round robin takes it to a replica that is up; a call has one answer, so nothing is
counted twice. Cost: one RPC per call (plus one per such retry); the analyzer pays tool start-up once
per call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from codeeval.api.analyzer.v1 import analyzer_pb2, analyzer_pb2_grpc
from codeeval.api.common.v1 import common_pb2
from codeeval.clients.base import ServiceClient, ServiceError
from codeeval.kit import languages
from codeeval.records import FileAnalysis, Leakage, QualitySummary

DEADLINE_S = 1800.0


@dataclass(frozen=True)
class SourceToAnalyze:
    """One file for Analyze: ``id`` comes back on its report; ``passed`` (None: unknown) feeds the
    analyzer's summary over passing files."""

    id: str
    language: str
    source: str
    passed: bool | None = None

    @property
    def path(self) -> str:
        return f"{self.id}.{languages.get(self.language).extension}"


@dataclass(frozen=True)
class AnalyzeResult:
    files: list[FileAnalysis]
    summary_all: QualitySummary
    summary_passing: QualitySummary
    tools: list[str]


@dataclass(frozen=True)
class InstanceMetrics:
    index: int
    metrics: dict[str, float]
    overlap: float
    verbatim: bool


@dataclass(frozen=True)
class ScoreResult:
    instances: list[InstanceMetrics]
    corpus: dict[str, float]
    leakage: Leakage | None
    tools: list[str]


def _language(name: str) -> common_pb2.Language:
    return cast(common_pb2.Language, languages.get(name).proto)


class AnalyzerClient(ServiceClient[analyzer_pb2_grpc.AnalyzerServiceStub]):
    service = "analyzer"
    stub_class = analyzer_pb2_grpc.AnalyzerServiceStub

    def capabilities(self) -> analyzer_pb2.GetCapabilitiesResponse:
        caps: analyzer_pb2.GetCapabilitiesResponse = self._capabilities(analyzer_pb2.GetCapabilitiesRequest())
        return caps

    def analyze(self, files: Sequence[SourceToAnalyze], language: str) -> AnalyzeResult:
        """Static analysis of ``files`` (all in ``language``): a report per file and the analyzer's
        summaries for that language over all files and over those marked passed (the summaries are
        keyed by language name in the response)."""
        request = analyzer_pb2.AnalyzeRequest(files=[
            analyzer_pb2.AnalyzedFile(file=common_pb2.SourceFile(path=f.path, content=f.source.encode(),
                                                                 language=_language(f.language)),
                                      passed=f.passed) for f in files])
        resp = self.call(lambda stub: stub.Analyze(request, timeout=DEADLINE_S))
        if len(resp.files) != len(files):
            raise ServiceError(self.service, f"analyzer: {len(resp.files)} reports for {len(files)} files")
        reports = []
        for f, report in zip(files, resp.files, strict=True):
            if report.path != f.path:
                raise ServiceError(self.service, f"analyzer: report for {report.path!r} where {f.path!r} was sent")
            reports.append(FileAnalysis.from_proto(f.id, report))
        return AnalyzeResult(
            files=reports,
            summary_all=(QualitySummary.from_proto(resp.summary_all[language]) if language in resp.summary_all
                         else QualitySummary.empty()),
            summary_passing=(QualitySummary.from_proto(resp.summary_passing[language])
                             if language in resp.summary_passing else QualitySummary.empty()),
            tools=[f"{t.name} {t.version}" for t in resp.tools])

    def score(self, hypotheses: Sequence[str], references: Sequence[str], language: str, metrics: Sequence[str],
              sources: Sequence[str] = ()) -> ScoreResult:
        """Metrics of each hypothesis against its reference; with ``sources``, the leakage check."""
        request = analyzer_pb2.ScoreRequest(hypotheses=list(hypotheses), references=list(references),
                                            language=_language(language), metrics=list(metrics),
                                            sources=list(sources))
        resp = self.call(lambda stub: stub.Score(request, timeout=DEADLINE_S))
        return ScoreResult(
            instances=[InstanceMetrics(i.index, {m.name: m.value for m in i.metrics}, i.reference_overlap,
                                       i.reference_verbatim_in_source) for i in resp.instances],
            corpus={m.name: m.value for m in resp.corpus},
            leakage=Leakage.from_proto(resp.leakage) if sources else None,
            tools=[f"{t.name} {t.version}" for t in resp.tools])
