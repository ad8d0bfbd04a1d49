"""The analyzer service over real gRPC (in-process server, port 0) with the real start-up probe:
health stays NOT_SERVING until pylint and PMD's JVM have really answered."""

from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from codeeval.analyzer import server
from codeeval.analyzer.settings import AnalyzerSettings
from codeeval.api.analyzer.v1 import analyzer_pb2, analyzer_pb2_grpc
from codeeval.api.common.v1 import common_pb2
from codeeval.kit.server import Runner
from codeeval.kit.startup import FatalStartupError

from .conftest import fixture_file

pytestmark = pytest.mark.integration


def _file(rel: str, passed: bool | None = None) -> analyzer_pb2.AnalyzedFile:
    raw = fixture_file(rel)
    entry = analyzer_pb2.AnalyzedFile(file=common_pb2.SourceFile(path=raw.path, content=raw.content))
    if passed is not None:
        entry.passed = passed
    return entry


async def _start(**overrides) -> tuple[Runner, grpc.aio.Channel]:
    runner = Runner(server.create(AnalyzerSettings.load(**overrides)), AnalyzerSettings.load(**overrides))
    await runner.start()
    return runner, grpc.aio.insecure_channel(f"127.0.0.1:{runner.port}")


async def test_analyze_score_and_errors_over_grpc() -> None:
    runner, channel = await _start(max_files=3)
    health = health_pb2_grpc.HealthStub(channel)
    stub = analyzer_pb2_grpc.AnalyzerServiceStub(channel)
    try:
        status = (await health.Check(health_pb2.HealthCheckRequest())).status
        assert status == health_pb2.HealthCheckResponse.NOT_SERVING  # the probe needs a JVM start
        await runner.wait_ready(300)
        resp = await stub.Analyze(analyzer_pb2.AnalyzeRequest(files=[
            _file("python/unused_variable.py", passed=True), _file("java/method_only.java", passed=False),
            _file("python/syntax_error.py")]))
        by_path = {f.path: f for f in resp.files}
        assert [f.rule for f in by_path["python/unused_variable.py"].findings] == ["W0612"]
        assert by_path["python/unused_variable.py"].findings[0].severity == analyzer_pb2.SEVERITY_WARNING
        java = by_path["java/method_only.java"]
        assert java.wrapped and java.analyzable and ("UnusedLocalVariable", 2) in [(f.rule, f.line)
                                                                                   for f in java.findings]
        # the study's six categories by default; nothing is blamed on the wrapper's own lines (NoPackage...)
        assert {f.category for f in java.findings} <= {"bestpractices", "codestyle", "design", "errorprone",
                                                        "multithreading", "performance"}
        assert all(1 <= f.line <= 4 for f in java.findings) and "NoPackage" not in {f.rule for f in java.findings}
        assert java.HasField("passed") and not java.passed
        assert not by_path["python/syntax_error.py"].analyzable
        assert resp.summary_all["python"].analyzable_rate == 0.5
        assert set(resp.summary_passing) == {"python", "java"} and resp.summary_passing["java"].files == 0
        assert {t.name for t in resp.tools} >= {"pylint", "pmd", "lizard", "radon"}

        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.Analyze(analyzer_pb2.AnalyzeRequest(files=[_file("python/clean.py")] * 4))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert err.value.details() == "files: 4 files exceeds the maximum of 3 files"
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.Analyze(analyzer_pb2.AnalyzeRequest(files=[analyzer_pb2.AnalyzedFile(
                file=common_pb2.SourceFile(path="x.py", content=b"\xff\xfe"))]))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "files[0].content" in err.value.details()

        score = await stub.Score(analyzer_pb2.ScoreRequest(
            hypotheses=["return a + b ;"], references=["return a + b ;"], language=common_pb2.LANGUAGE_JAVA,
            sources=["int add(int a, int b) { return a + b ; }"]))
        names = [m.name for m in score.corpus]
        assert names == ["codebleu", "bleu", "chrf", "rouge_l", "meteor", "exact_match"]
        assert score.corpus[0].components["syntax_match"] == pytest.approx(1.0)
        assert score.instances[0].reference_verbatim_in_source and score.leakage.verbatim == 1

        caps = await stub.GetCapabilities(analyzer_pb2.GetCapabilitiesRequest())
        assert caps.max_files == 3 and "quickstart" in caps.java_categories and "meteor" in caps.metrics
    finally:
        await channel.close()
        await runner.shutdown(grace=1)


async def test_fails_its_start_at_once_when_pmd_is_missing(tmp_path) -> None:
    runner, channel = await _start(pmd_home=tmp_path / "nowhere")
    health = health_pb2_grpc.HealthStub(channel)
    try:
        with pytest.raises(FatalStartupError, match="no pmd-java jar"):
            await runner.wait_ready(300)
        status = (await health.Check(health_pb2.HealthCheckRequest())).status
        assert status == health_pb2.HealthCheckResponse.NOT_SERVING
    finally:
        await channel.close()
        await runner.shutdown(grace=1)
