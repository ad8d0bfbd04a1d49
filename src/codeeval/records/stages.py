"""Typed records of the bench stages, with their proto and JSON conversions in one place.

One record per line of a run folder's stage files: :class:`Sample` (generations.jsonl),
:class:`Extraction` (extractions.jsonl), :class:`Program` (programs.jsonl), :class:`Execution`
(executions.jsonl), :class:`TaskAnalysis` (analysis.jsonl, one per task, holding the analyzer's
per-file reports and its summaries) and :class:`TaskScore` (scores.jsonl). ``to_json`` writes the
field names run folders have always used, so a run folder made before these records resumes.
Conversions are pure; the protos come from the typed clients in :mod:`codeeval.clients`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any, cast

from codeeval.api.analyzer.v1 import analyzer_pb2
from codeeval.api.common.v1 import common_pb2
from codeeval.api.generator.v1 import generator_pb2
from codeeval.api.sandbox.v1 import sandbox_pb2
from codeeval.kit import languages
from codeeval.records.outcomes import FinishReason, Mode, Outcome

#: Kept from a program's output in executions.jsonl (enough to see why it failed).
OUTPUT_KEEP = 2000
SampleKey = tuple[str, str, int]


@dataclass(frozen=True)
class Sample:
    """One answer to one item: from the generator, or from a samples file (``origin`` "samples",
    ``form`` "completion" or "solution": the text is the code as it is, not a chat answer)."""

    task: str
    item: str
    sample: int
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: FinishReason = FinishReason.UNSPECIFIED
    adapter: str = ""
    template: str = ""
    template_sha256: str = ""
    seed: int = 0
    origin: str = "generator"
    form: str = ""
    prompt_sha256: str = ""  # sha256 of the exact text the model saw (generator samples only)
    template_override: bool = False  # served with another template than the adapter was trained with

    @property
    def key(self) -> SampleKey:
        return (self.task, self.item, self.sample)

    @classmethod
    def from_proto(cls, task: str, item: str, resp: generator_pb2.GenerateResponse) -> Sample:
        return cls(task=task, item=item, sample=resp.sample_index, text=resp.text, prompt_tokens=resp.prompt_tokens,
                   completion_tokens=resp.completion_tokens, finish_reason=FinishReason.from_proto(resp.finish_reason),
                   adapter=resp.adapter, template=resp.template, template_sha256=resp.template_sha256, seed=resp.seed,
                   prompt_sha256=resp.prompt_sha256, template_override=resp.template_override)

    def to_json(self) -> dict[str, Any]:
        out = {**asdict(self), "finish_reason": self.finish_reason.to_json()}
        if self.origin == "generator":
            del out["origin"], out["form"]
        for key, empty in (("prompt_sha256", ""), ("template_override", False)):
            if out[key] == empty:  # absent in older runs and in samples files: keep their records as they were
                del out[key]
        return out

    @classmethod
    def from_json(cls, rec: dict[str, Any]) -> Sample:
        return cls(**{**rec, "sample": int(rec["sample"]),
                      "finish_reason": FinishReason.from_json(rec.get("finish_reason") or "FINISH_REASON_UNSPECIFIED")})


@dataclass(frozen=True)
class Extraction:
    """The answer taken from a sample, and the key of its program ('' when there is nothing to run)."""

    task: str
    item: str
    sample: int
    answer: str
    key: str
    mode: Mode

    @property
    def sample_key(self) -> SampleKey:
        return (self.task, self.item, self.sample)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "mode": self.mode.value}

    @classmethod
    def from_json(cls, rec: dict[str, Any]) -> Extraction:
        return cls(task=rec["task"], item=rec["item"], sample=int(rec["sample"]), answer=rec["answer"],
                   key=rec["key"], mode=Mode(rec["mode"]))


@dataclass(frozen=True)
class Program:
    """What the sandbox runs. ``key`` is the sha256 of everything the sandbox sees (language,
    source, test, entry point, mode), so identical programs are executed once."""

    language: str
    source: str
    test: str
    entry_point: str
    mode: Mode
    timeout_ms: int = 0

    @property
    def key(self) -> str:
        spec = {"language": self.language, "source": self.source, "test": self.test,
                "entry_point": self.entry_point, "mode": self.mode.value}
        return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()

    def to_request(self, request_id: str = "", calibrate: bool = False, reference: str = "",
                   wall_time_ms: int | None = None) -> sandbox_pb2.ExecuteRequest:
        """The ExecuteRequest (ids default to the key's first 16 hex digits); with ``calibrate``, the
        wall limit is calibrated on ``reference``."""
        language = cast(common_pb2.Language, languages.get(self.language).proto)
        program = sandbox_pb2.Program(language=language, source=self.source.encode(),
                                      test=self.test.encode(), entry_point=self.entry_point,
                                      mode=self.mode.to_proto())
        limits = sandbox_pb2.Limits(wall_time_ms=self.timeout_ms if wall_time_ms is None else wall_time_ms)
        req = sandbox_pb2.ExecuteRequest(id=request_id or self.key[:16], program=program, limits=limits)
        if calibrate and reference:
            req.calibration.CopyFrom(sandbox_pb2.TimeCalibration(reference_source=reference.encode()))
        return req

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, **asdict(self), "mode": self.mode.value}

    @classmethod
    def from_json(cls, rec: dict[str, Any]) -> Program:
        return cls(language=rec["language"], source=rec["source"], test=rec["test"], entry_point=rec["entry_point"],
                   mode=Mode(rec["mode"]), timeout_ms=int(rec.get("timeout_ms") or 0))


@dataclass(frozen=True)
class Calibration:
    reference_wall_ms: int
    reference_failed: bool


@dataclass(frozen=True)
class Execution:
    """The sandbox's verdict on one program (``key``), or a client-side NOT_RUN."""

    key: str
    outcome: Outcome
    exit_code: int = 0
    signal: int = 0
    wall_time_ms: int = 0
    cpu_time_ms: int = 0
    peak_memory_bytes: int = 0
    detail: str = ""
    compile_output: str = ""
    stderr: str = ""
    attempts: int = 0
    backend: str = ""
    wall_limit_ms: int = 0
    calibration: Calibration | None = None

    @classmethod
    def from_proto(cls, key: str, r: sandbox_pb2.ExecutionResult) -> Execution:
        calibration = (Calibration(r.calibration.reference_wall_ms, r.calibration.reference_failed)
                       if r.HasField("calibration") else None)
        return cls(key=key, outcome=Outcome.from_proto(r.outcome), exit_code=r.exit_code, signal=r.signal,
                   wall_time_ms=r.wall_time_ms, cpu_time_ms=r.cpu_time_ms, peak_memory_bytes=r.peak_memory_bytes,
                   detail=r.detail, compile_output=r.compile_output[:OUTPUT_KEEP],
                   stderr=r.stderr[-OUTPUT_KEEP:].decode(errors="replace"), attempts=r.attempts, backend=r.backend,
                   wall_limit_ms=r.effective_limits.wall_time_ms, calibration=calibration)

    @property
    def passed(self) -> bool:
        return self.outcome is Outcome.PASSED

    def to_json(self) -> dict[str, Any]:
        out = {**asdict(self), "outcome": self.outcome.to_json()}
        if self.calibration is None:
            del out["calibration"]
        return out

    @classmethod
    def from_json(cls, rec: dict[str, Any]) -> Execution:
        known = {f for f in cls.__dataclass_fields__}
        data = {k: v for k, v in rec.items() if k in known}
        cal = data.pop("calibration", None)
        return cls(**{**data, "outcome": Outcome.from_json(rec["outcome"]),
                      "calibration": Calibration(**cal) if cal else None})


@dataclass(frozen=True)
class FileAnalysis:
    """The analyzer's report on one program (``key``); ``categories`` counts findings by ``tool/category``."""

    key: str
    analyzable: bool
    parse_error: str = ""
    wrapped: bool = False
    nloc: int = 0
    loc: int = 0
    issues: int = 0
    categories: dict[str, int] = field(default_factory=dict)
    mean_cc: float = 0.0
    max_cc: int = 0
    tool_errors: list[str] = field(default_factory=list)

    @classmethod
    def from_proto(cls, key: str, fr: analyzer_pb2.FileReport) -> FileAnalysis:
        categories: dict[str, int] = {}
        for f in fr.findings:
            cat = f"{f.tool}/{f.category or analyzer_pb2.Severity.Name(f.severity)}"
            categories[cat] = categories.get(cat, 0) + 1
        m = fr.metrics
        return cls(key=key, analyzable=fr.analyzable, parse_error=fr.parse_error, wrapped=fr.wrapped, nloc=m.nloc,
                   loc=m.loc, issues=len(fr.findings), categories=categories,
                   mean_cc=m.average_cyclomatic_complexity, max_cc=m.max_cyclomatic_complexity,
                   tool_errors=[f"{e.tool}: {e.message}" for e in fr.tool_errors])

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, rec: dict[str, Any]) -> FileAnalysis:
        return cls(**rec)


@dataclass(frozen=True)
class QualitySummary:
    """The analyzer's ``Summary`` of a set of files (issues and NLOC over analysable files only)."""

    files: int
    analyzable: int
    analyzable_rate: float | None
    issues: int
    nloc: int
    issues_per_kloc: float | None
    mean_cc: float | None
    categories: dict[str, int]

    @classmethod
    def from_proto(cls, s: analyzer_pb2.Summary) -> QualitySummary:
        return cls(files=s.files, analyzable=s.analyzable_files,
                   analyzable_rate=s.analyzable_rate if s.files else None, issues=s.issues, nloc=s.nloc,
                   issues_per_kloc=s.issues_per_kloc if s.nloc else None,
                   mean_cc=s.mean_cyclomatic_complexity or None,
                   categories={f"{c.tool}/{c.category}": c.count for c in s.categories})

    @classmethod
    def empty(cls) -> QualitySummary:
        return cls(0, 0, None, 0, 0, None, None, {})

    @classmethod
    def combine(cls, parts: list[QualitySummary]) -> QualitySummary:
        """The summary of several Analyze calls' files (counts add; the mean CC is weighted by
        analysable files). A single part is returned as the analyzer gave it."""
        if len(parts) == 1:
            return parts[0]
        if not parts:
            return cls.empty()
        files, ok = sum(p.files for p in parts), sum(p.analyzable for p in parts)
        issues, nloc = sum(p.issues for p in parts), sum(p.nloc for p in parts)
        cats: dict[str, int] = {}
        for p in parts:
            for c, n in p.categories.items():
                cats[c] = cats.get(c, 0) + n
        cc = [(p.mean_cc, p.analyzable) for p in parts if p.mean_cc]
        weight = sum(w for _, w in cc)
        return cls(files, ok, ok / files if files else None, issues, nloc,
                   issues * 1000.0 / nloc if nloc else None,
                   sum(v * w for v, w in cc) / weight if weight else None, cats)

    def to_json(self) -> dict[str, Any]:
        kloc = self.nloc / 1000.0
        return {"files": self.files, "analyzable": self.analyzable, "analyzable_rate": self.analyzable_rate,
                "issues": self.issues, "nloc": self.nloc, "issues_per_kloc": self.issues_per_kloc,
                "mean_cc": self.mean_cc,
                "categories": {c: {"count": n, "per_kloc": n / kloc if kloc else None}
                               for c, n in sorted(self.categories.items())}}

    @classmethod
    def from_json(cls, rec: dict[str, Any]) -> QualitySummary:
        return cls(files=rec["files"], analyzable=rec["analyzable"], analyzable_rate=rec["analyzable_rate"],
                   issues=rec["issues"], nloc=rec["nloc"], issues_per_kloc=rec["issues_per_kloc"],
                   mean_cc=rec["mean_cc"], categories={c: v["count"] for c, v in rec["categories"].items()})


@dataclass(frozen=True)
class TaskAnalysis:
    """One task's static analysis: a report per distinct program and the analyzer's summaries over
    them (``passing``: the programs that passed their tests)."""

    task: str
    files: list[FileAnalysis]
    all: QualitySummary
    passing: QualitySummary
    tools: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"task": self.task, "files": [f.to_json() for f in self.files], "all": self.all.to_json(),
                "passing": self.passing.to_json(), "tools": self.tools}

    @classmethod
    def from_json(cls, rec: dict[str, Any]) -> TaskAnalysis:
        return cls(task=rec["task"], files=[FileAnalysis.from_json(f) for f in rec["files"]],
                   all=QualitySummary.from_json(rec["all"]), passing=QualitySummary.from_json(rec["passing"]),
                   tools=list(rec["tools"]))


@dataclass(frozen=True)
class Leakage:
    """Input/reference leakage over a task's summaries, as the analyzer reports it."""

    instances: int
    verbatim: int
    verbatim_rate: float
    mean_overlap: float

    @classmethod
    def from_proto(cls, leak: analyzer_pb2.LeakageReport) -> Leakage:
        return cls(leak.instances, leak.verbatim, leak.verbatim_rate, leak.mean_overlap)

    @classmethod
    def combine(cls, parts: list[Leakage]) -> Leakage:
        """Several Score calls' reports as one (counts add; the overlap is weighted by instances)."""
        if len(parts) == 1:
            return parts[0]
        n, verbatim = sum(p.instances for p in parts), sum(p.verbatim for p in parts)
        return cls(n, verbatim, verbatim / n if n else 0.0,
                   sum(p.mean_overlap * p.instances for p in parts) / n if n else 0.0)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ScoreInstance:
    item: str
    sample: int
    metrics: dict[str, float]
    overlap: float = 0.0
    verbatim: bool = False


@dataclass(frozen=True)
class TaskScore:
    """One task's reference metrics: per sample, corpus-level (one Score call only) and leakage."""

    task: str
    instances: list[ScoreInstance]
    corpus: dict[str, float]
    leakage: Leakage | None
    tools: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"task": self.task, "instances": [asdict(i) for i in self.instances], "corpus": self.corpus,
                "leakage": self.leakage.to_json() if self.leakage else None, "tools": self.tools}

    @classmethod
    def from_json(cls, rec: dict[str, Any]) -> TaskScore:
        leak = rec.get("leakage")
        return cls(task=rec["task"], instances=[ScoreInstance(**i) for i in rec["instances"]],
                   corpus=dict(rec["corpus"]), leakage=Leakage(**leak) if leak else None, tools=list(rec["tools"]))
