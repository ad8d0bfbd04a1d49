"""In-process fake servicers for the bench's glue tests ONLY (message plumbing, resume, dedup,
error reporting). Every faked path is also covered against the real services in test_e2e.py.

The fake generator answers each prompt with the item's reference in a fence (``good``) or with
prose (``bad``); the fake sandbox passes every program without the word FAIL (and answers SANDBOX_ERROR for one
with the word INFRA); the fake analyzer reports one convention finding per file, summarises them,
scores 1.0 for an exact match and reports verbatim leakage.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import grpc

from codeeval.api.analyzer.v1 import analyzer_pb2, analyzer_pb2_grpc
from codeeval.api.common.v1 import common_pb2
from codeeval.api.generator.v1 import generator_pb2, generator_pb2_grpc
from codeeval.api.sandbox.v1 import sandbox_pb2, sandbox_pb2_grpc
from codeeval.suites import load_suite, read_items

FENCE = {"python": "python", "java": "java", "csharp": "csharp"}


def default_answers(bad_every: int = 3) -> dict[str, str]:
    """prompt id -> answer text: every ``bad_every``-th item of each task gets a wrong answer."""
    loaded = load_suite("default")
    answers = {}
    for task in loaded.suite.tasks:
        for i, item in enumerate(read_items(task, loaded.base_dir)):
            if task.kind == "summarization":
                text = item.reference if i % bad_every else "It does things."
            elif i % bad_every:
                text = f"Here you go:\n```{FENCE[task.language]}\n{item.reference}```\n"
            else:
                mark = "#" if task.language == "python" else "//"  # a comment the extractor keeps
                text = f"```{FENCE[task.language]}\n{mark} FAIL\n{item.reference}```"
            answers[f"{task.name}/{item.id}"] = text
    return answers


@dataclass
class FakeGenerator(generator_pb2_grpc.GeneratorServiceServicer):
    answers: dict[str, str]
    adapter_answers: dict[str, str] = field(default_factory=dict)
    loaded_paths: list[str] = field(default_factory=list)
    fail_after: int | None = None
    sent: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def Generate(self, request, context):
        table = self.adapter_answers if request.adapter and self.adapter_answers else self.answers
        for pi, prompt in enumerate(request.prompts):
            for s in range(request.sampling.n or 1):
                with self.lock:
                    if self.fail_after is not None and self.sent >= self.fail_after:
                        context.abort(grpc.StatusCode.UNAVAILABLE, "generator is restarting")
                    self.sent += 1
                yield generator_pb2.GenerateResponse(
                    prompt_id=prompt.id, prompt_index=pi, sample_index=s, text=table.get(prompt.id, "no idea"),
                    prompt_tokens=10, completion_tokens=20, finish_reason=generator_pb2.FINISH_REASON_STOP,
                    adapter=request.adapter, template=request.template or "smollm2", template_sha256="t" * 64,
                    seed=request.sampling.seed)

    def LoadAdapter(self, request, context):
        self.loaded_paths.append(request.path)
        if request.path.startswith("missing/"):  # as the real generator answers a path it cannot resolve
            context.abort(grpc.StatusCode.NOT_FOUND, f"adapter path {request.path!r} does not exist")
        return generator_pb2.LoadAdapterResponse(adapter=generator_pb2.AdapterInfo(
            name=request.name, path=request.path, sha256="a" * 64, template="smollm2"))

    def GetCapabilities(self, request, context):
        return generator_pb2.GetCapabilitiesResponse(engine="fake", base_model="fake/model",
                                                     base_model_sha256="m" * 64, max_prompts=4)


@dataclass
class FakeSandbox(sandbox_pb2_grpc.SandboxServiceServicer):
    programs: int = 0

    def ExecuteBatch(self, request, context):
        for i, req in enumerate(request.requests):
            self.programs += 1
            outcome = (sandbox_pb2.OUTCOME_SANDBOX_ERROR if b"INFRA" in req.program.source
                       else sandbox_pb2.OUTCOME_FAILED if b"FAIL" in req.program.source else sandbox_pb2.OUTCOME_PASSED)
            yield sandbox_pb2.ExecuteBatchResponse(index=i, result=sandbox_pb2.ExecutionResult(
                id=req.id, outcome=outcome, backend="fake"))

    def GetCapabilities(self, request, context):
        modes = [sandbox_pb2.MODE_RUN_TESTS, sandbox_pb2.MODE_COMPILE_ONLY]
        return sandbox_pb2.GetCapabilitiesResponse(backend="fake", max_batch_size=8, languages=[
            sandbox_pb2.LanguageSupport(language=common_pb2.LANGUAGE_PYTHON, modes=modes),
            sandbox_pb2.LanguageSupport(language=common_pb2.LANGUAGE_JAVA, modes=modes)])


@dataclass
class FakeAnalyzer(analyzer_pb2_grpc.AnalyzerServiceServicer):
    files: int = 0

    def Analyze(self, request, context):
        reports, nloc = [], 0
        for f in request.files:
            self.files += 1
            lines = f.file.content.decode().count("\n") or 1
            nloc += lines
            reports.append(analyzer_pb2.FileReport(
                path=f.file.path, analyzable=True, metrics=analyzer_pb2.FileMetrics(nloc=lines),
                findings=[analyzer_pb2.Finding(path=f.file.path, tool="fake", category="convention")]))
        resp = analyzer_pb2.AnalyzeResponse(files=reports)
        n = len(reports)
        lang = {common_pb2.LANGUAGE_PYTHON: "python", common_pb2.LANGUAGE_JAVA: "java",
                common_pb2.LANGUAGE_CSHARP: "csharp"}[request.files[0].file.language] if n else "python"
        resp.summary_all[lang].CopyFrom(analyzer_pb2.Summary(
            files=n, analyzable_files=n, analyzable_rate=1.0, issues=n, nloc=nloc, issues_per_kloc=n * 1000 / nloc,
            categories=[analyzer_pb2.CategoryCount(tool="fake", category="convention", count=n)]))
        return resp

    def Score(self, request, context):
        instances = []
        for i, (h, r) in enumerate(zip(request.hypotheses, request.references, strict=True)):
            value = 1.0 if h.strip() == r.strip() else 0.0
            src = request.sources[i] if request.sources else ""
            instances.append(analyzer_pb2.InstanceScore(
                index=i, metrics=[analyzer_pb2.MetricValue(name=m, value=value) for m in request.metrics],
                reference_verbatim_in_source=bool(src) and r in src))
        verbatim = sum(i.reference_verbatim_in_source for i in instances)
        leakage = analyzer_pb2.LeakageReport(instances=len(instances), verbatim=verbatim,
                                             verbatim_rate=verbatim / len(instances) if instances else 0.0)
        return analyzer_pb2.ScoreResponse(instances=instances, leakage=leakage)

    def GetCapabilities(self, request, context):
        return analyzer_pb2.GetCapabilitiesResponse(tools=[common_pb2.ToolInfo(name="fake", version="1")])


@dataclass
class FakeServices:
    generator: FakeGenerator
    sandbox: FakeSandbox
    analyzer: FakeAnalyzer
    address: str
