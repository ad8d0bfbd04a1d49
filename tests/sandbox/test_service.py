"""The sandbox service end to end in-process (real bubblewrap, real JVM): health, capabilities,
validation (INVALID_ARGUMENT naming the field), RESOURCE_EXHAUSTED, deadlines, HumanEval."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import humaneval_data
import pytest
import pytest_asyncio
from conftest import HUMANEVAL, bwrap_usable
from grpc_health.v1 import health_pb2, health_pb2_grpc

from codeeval.api.common.v1 import common_pb2
from codeeval.api.sandbox.v1 import sandbox_pb2, sandbox_pb2_grpc
from codeeval.kit.server import Runner
from codeeval.sandbox import server
from codeeval.sandbox.settings import SandboxSettings

pytestmark = [pytest.mark.asyncio(loop_scope="module"),
              pytest.mark.skipif(not bwrap_usable(), reason="bubblewrap not installed")]
PY = common_pb2.LANGUAGE_PYTHON


def program(source: str, test: str = "", entry: str = "", lang: int = PY, **kw) -> sandbox_pb2.Program:
    return sandbox_pb2.Program(language=lang, source=source.encode(), test=test.encode(), entry_point=entry, **kw)


class Service:
    def __init__(self, runner: Runner, channel: grpc.aio.Channel) -> None:
        self.runner = runner
        self.stub = sandbox_pb2_grpc.SandboxServiceStub(channel)
        self.health = health_pb2_grpc.HealthStub(channel)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def svc() -> AsyncIterator[Service]:
    settings = SandboxSettings.load(max_concurrency=2, max_queue=400, max_batch_size=1000, health_recheck_seconds=30,
                                    max_wall_time_ms=60_000)
    runner = Runner(server.create(settings), settings)
    await runner.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{runner.port}")
    health = health_pb2_grpc.HealthStub(channel)
    first = await health.Check(health_pb2.HealthCheckRequest(service=""))
    assert first.status == health_pb2.HealthCheckResponse.NOT_SERVING  # before the probe ran
    await runner.wait_ready(60)
    yield Service(runner, channel)
    await channel.close()
    await runner.shutdown(grace=1)


async def test_serving_after_probe_and_capabilities(svc: Service):
    status = await svc.health.Check(health_pb2.HealthCheckRequest(service="codeeval.sandbox.v1.SandboxService"))
    assert status.status == health_pb2.HealthCheckResponse.SERVING
    caps = await svc.stub.GetCapabilities(sandbox_pb2.GetCapabilitiesRequest())
    assert caps.backend == "bubblewrap"
    assert caps.backend_version.startswith("0.")
    langs = {lang.language: lang for lang in caps.languages}
    assert {common_pb2.LANGUAGE_PYTHON, common_pb2.LANGUAGE_JAVA} <= set(langs)
    assert any(t.name == "javac" and "17" in t.version for t in langs[common_pb2.LANGUAGE_JAVA].toolchain)
    if common_pb2.LANGUAGE_CSHARP in langs:
        assert "7.2" in langs[common_pb2.LANGUAGE_CSHARP].notes
    assert caps.max_limits.wall_time_ms == 60_000 and caps.default_limits.memory_bytes > 0


@pytest.mark.parametrize(("req", "field"), [
    (sandbox_pb2.ExecuteRequest(program=program("x = 1", lang=0)), "program.language"),
    (sandbox_pb2.ExecuteRequest(program=program("x = 1", lang=99)), "program.language"),
    (sandbox_pb2.ExecuteRequest(program=program("   ")), "program.source"),
    (sandbox_pb2.ExecuteRequest(program=program("x = 1" * 100_000)), "program.source"),
    (sandbox_pb2.ExecuteRequest(program=sandbox_pb2.Program(language=PY, source=b"\xff\xfe")), "program.source"),
    (sandbox_pb2.ExecuteRequest(program=sandbox_pb2.Program(language=PY, source=b"x", test=b"\xc3(")),
     "program.test"),
    (sandbox_pb2.ExecuteRequest(program=program("x = 1"), limits=sandbox_pb2.Limits(wall_time_ms=60_001)),
     "limits.wall_time_ms"),
    (sandbox_pb2.ExecuteRequest(program=program("x = 1"), limits=sandbox_pb2.Limits(memory_bytes=1 << 40)),
     "limits.memory_bytes"),
    (sandbox_pb2.ExecuteRequest(program=program("x = 1", extra_files=[common_pb2.SourceFile(path="../x")])),
     "program.extra_files[0].path"),
])
async def test_invalid_requests_name_the_field(svc: Service, req: sandbox_pb2.ExecuteRequest, field: str):
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await svc.stub.Execute(req)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.value.details().startswith(field + ":"), err.value.details()


async def test_invalid_batch_member_is_named_by_index(svc: Service):
    reqs = [sandbox_pb2.ExecuteRequest(program=program("x = 1")), sandbox_pb2.ExecuteRequest(program=program(""))]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        async for _ in svc.stub.ExecuteBatch(sandbox_pb2.ExecuteBatchRequest(requests=reqs)):
            pass
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.value.details().startswith("requests[1].program.source:")


async def test_resource_exhausted_when_queue_full(svc: Service):
    # capacity = max_concurrency 2 + max_queue 400: a batch of 403 is refused before anything runs
    reqs = [sandbox_pb2.ExecuteRequest(program=program("x = 1"))] * 403
    with pytest.raises(grpc.aio.AioRpcError) as err:
        async for _ in svc.stub.ExecuteBatch(sandbox_pb2.ExecuteBatchRequest(requests=reqs)):
            pass
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "max_queue 400" in err.value.details()


async def test_run_never_outlives_the_rpc_deadline(svc: Service):
    req = sandbox_pb2.ExecuteRequest(program=program("import time\ntime.sleep(30)\n", mode=sandbox_pb2.MODE_RUN),
                                     limits=sandbox_pb2.Limits(wall_time_ms=30_000))
    loop = asyncio.get_running_loop()
    start = loop.time()
    resp = await svc.stub.Execute(req, timeout=2.0)
    assert resp.result.outcome == sandbox_pb2.OUTCOME_TIMEOUT
    assert resp.result.effective_limits.wall_time_ms < 2000
    assert loop.time() - start < 2.0


async def test_typed_result_fields(svc: Service):
    resp = await svc.stub.Execute(sandbox_pb2.ExecuteRequest(
        id="r1", program=program("print('x' * 5000)\nimport sys\nprint('err', file=sys.stderr)\nraise ValueError\n"),
        limits=sandbox_pb2.Limits(output_bytes=1000)))
    r = resp.result
    assert (r.id, r.outcome, r.exit_code, r.backend) == ("r1", sandbox_pb2.OUTCOME_RUNTIME_ERROR, 102, "bubblewrap")
    assert r.stdout == b"x" * 1000 and r.stdout_truncated and not r.stderr_truncated
    assert b"ValueError" in r.stderr and b"CODEEVAL" not in r.stderr
    assert r.wall_time_ms > 0 and r.attempts == 1 and r.effective_limits.output_bytes == 1000


async def test_calibration_is_recorded(svc: Service):
    test = "def check(f):\n    assert f() == 1\n"
    resp = await svc.stub.Execute(sandbox_pb2.ExecuteRequest(
        program=program("def one():\n    return 1\n", test, "one"),
        calibration=sandbox_pb2.TimeCalibration(reference_source=b"def one():\n    return 1\n", factor=3,
                                                floor_ms=1500)))
    c = resp.result.calibration
    assert resp.result.outcome == sandbox_pb2.OUTCOME_PASSED
    assert c.reference_wall_ms > 0 and not c.reference_failed and c.factor == 3
    assert c.wall_time_ms == max(1500, 3 * c.reference_wall_ms) == resp.result.effective_limits.wall_time_ms


async def test_java_batch_via_service(svc: Service):
    sol = "import java.util.*;\nclass Solution {\n    public int add(int a, int b) {\n        return %s;\n    }\n}\n"
    test = ("public class Main {\n    public static void main(String[] args) {\n"
            "        if (new Solution().add(2, 3) != 5) throw new AssertionError();\n    }\n}\n")
    java = common_pb2.LANGUAGE_JAVA
    reqs = [sandbox_pb2.ExecuteRequest(id=str(i), program=program(sol % body, test, lang=java))
            for i, body in enumerate(["a + b", "a - b", "a + \"b\""])]
    got = {}
    async for item in svc.stub.ExecuteBatch(sandbox_pb2.ExecuteBatchRequest(requests=reqs)):
        got[item.index] = item.result
    assert [got[i].outcome for i in range(3)] == [sandbox_pb2.OUTCOME_PASSED, sandbox_pb2.OUTCOME_FAILED,
                                                   sandbox_pb2.OUTCOME_COMPILE_ERROR]
    assert "incompatible types" in got[2].compile_output and "Solution.java:4" in got[2].compile_output


def _humaneval_requests(limit: int | None) -> tuple[list[dict[str, str]], list[sandbox_pb2.ExecuteRequest]]:
    problems = humaneval_data.load(HUMANEVAL)[:limit]
    reqs = [humaneval_data.request(p, p["canonical_solution"], f"{p['task_id']}/canonical") for p in problems]
    reqs += [humaneval_data.request(p, humaneval_data.broken_completion(p), f"{p['task_id']}/broken") for p in problems]
    return problems, reqs


async def _check_humaneval(svc: Service, limit: int | None) -> None:
    if not HUMANEVAL.exists():
        pytest.skip(f"HumanEval not found at {HUMANEVAL}")
    problems, reqs = _humaneval_requests(limit)
    results = {}
    async for item in svc.stub.ExecuteBatch(sandbox_pb2.ExecuteBatchRequest(requests=reqs), timeout=600):
        results[item.result.id] = item.result
    assert len(results) == 2 * len(problems)
    bad = {k: (sandbox_pb2.Outcome.Name(r.outcome), r.stderr[-300:]) for k, r in results.items()
           if k.endswith("/canonical") and r.outcome != sandbox_pb2.OUTCOME_PASSED}
    assert bad == {}
    passed_broken = [k for k, r in results.items() if k.endswith("/broken") and r.outcome == sandbox_pb2.OUTCOME_PASSED]
    assert passed_broken == []
    assert not any(r.outcome == sandbox_pb2.OUTCOME_SANDBOX_ERROR for r in results.values())


async def test_humaneval_first_tasks_canonical_pass_broken_fail(svc: Service):
    await _check_humaneval(svc, 12)


@pytest.mark.slow
async def test_humaneval_all_164_canonical_pass_broken_fail(svc: Service):
    await _check_humaneval(svc, None)
