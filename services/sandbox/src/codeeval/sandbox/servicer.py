"""gRPC servicer: translates v1 messages to the core's types and back; no logic of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from codeeval.api.common.v1 import common_pb2
from codeeval.api.sandbox.v1 import sandbox_pb2, sandbox_pb2_grpc
from codeeval.kit import languages
from codeeval.kit.errors import InvalidArgument, Unavailable, decode_utf8
from codeeval.sandbox.executor import Executor
from codeeval.sandbox.model import Calibration, Language, Limits, Mode, RunRequest, RunResult, TableTest

_LANG_IN = {common_pb2.Language.Value(lang.proto_name): Language(lang.name) for lang in languages.LANGUAGES.values()}
_LANG_OUT = {v: k for k, v in _LANG_IN.items()}
_MODE_IN = {sandbox_pb2.MODE_UNSPECIFIED: Mode.RUN_TESTS, sandbox_pb2.MODE_RUN_TESTS: Mode.RUN_TESTS,
            sandbox_pb2.MODE_COMPILE_ONLY: Mode.COMPILE_ONLY, sandbox_pb2.MODE_RUN: Mode.RUN}
_MODE_OUT = {Mode.RUN_TESTS: sandbox_pb2.MODE_RUN_TESTS, Mode.COMPILE_ONLY: sandbox_pb2.MODE_COMPILE_ONLY,
             Mode.RUN: sandbox_pb2.MODE_RUN}


def limits_from_pb(m: sandbox_pb2.Limits) -> Limits:
    return Limits(m.wall_time_ms, m.cpu_time_ms, m.memory_bytes, m.output_bytes, m.max_processes, m.max_file_bytes)


def limits_to_pb(limits: Limits) -> sandbox_pb2.Limits:
    return sandbox_pb2.Limits(**limits.as_dict())


def request_from_pb(m: sandbox_pb2.ExecuteRequest, where: str = "") -> RunRequest:
    """Decode and type-check one request; bad bytes or enums are INVALID_ARGUMENT naming the field."""
    p = m.program
    if p.language not in _LANG_IN:
        raise InvalidArgument(f"unknown language {p.language}; use LANGUAGE_PYTHON, LANGUAGE_JAVA or LANGUAGE_CSHARP",
                              field=f"{where}program.language")
    if p.mode not in _MODE_IN:
        raise InvalidArgument(f"unknown mode {p.mode}", field=f"{where}program.mode")
    calibration = None
    if m.HasField("calibration"):
        calibration = Calibration(decode_utf8(f"{where}calibration.reference_source", m.calibration.reference_source),
                                  m.calibration.factor, m.calibration.floor_ms)
    table = None
    if p.HasField("table"):
        table = TableTest(decode_utf8(f"{where}program.table.reference_source", p.table.reference_source),
                          tuple(p.table.inputs), p.table.atol)
    extra = tuple((f.path, decode_utf8(f"{where}program.extra_files[{i}].content", f.content))
                  for i, f in enumerate(p.extra_files))
    return RunRequest(
        language=_LANG_IN[p.language], source=decode_utf8(f"{where}program.source", p.source),
        test=decode_utf8(f"{where}program.test", p.test), entry_point=p.entry_point, mode=_MODE_IN[p.mode],
        stdin=p.stdin, extra_files=extra, limits=limits_from_pb(m.limits), calibration=calibration, id=m.id,
        table=table,
    )


def result_to_pb(r: RunResult) -> sandbox_pb2.ExecutionResult:
    out = sandbox_pb2.ExecutionResult(
        id=r.id, outcome=sandbox_pb2.Outcome.Value(f"OUTCOME_{r.outcome.value}"), exit_code=r.exit_code,
        signal=r.signal, stdout=r.stdout, stderr=r.stderr, stdout_truncated=r.stdout_truncated,
        stderr_truncated=r.stderr_truncated, wall_time_ms=r.wall_time_ms, cpu_time_ms=r.cpu_time_ms,
        peak_memory_bytes=r.peak_memory_bytes, compile_output=r.compile_output, detail=r.detail,
        attempts=r.attempts, effective_limits=limits_to_pb(r.effective_limits), backend=r.backend,
    )
    if r.calibration is not None:
        c = r.calibration
        out.calibration.CopyFrom(sandbox_pb2.CalibrationRecord(
            reference_wall_ms=c.reference_wall_ms, factor=c.factor, floor_ms=c.floor_ms,
            wall_time_ms=c.wall_time_ms, reference_failed=c.reference_failed))
    return out


class SandboxServicer(sandbox_pb2_grpc.SandboxServiceServicer):
    def __init__(self, executor: Executor) -> None:
        self.executor = executor

    def _require_started(self) -> None:
        """UNAVAILABLE (a client retries it, on another replica or later) until the executor has started:
        a replica restarted on its port listens before its backend is up, and its empty language list
        would read as "runs nothing" to a client that caches it (found by the reliability replica kills)."""
        if not self.executor.started:
            raise Unavailable("the sandbox is still starting: its backend and languages are not probed yet")

    async def Execute(self, request: sandbox_pb2.ExecuteRequest, context: grpc.aio.ServicerContext
                      ) -> sandbox_pb2.ExecuteResponse:
        self._require_started()
        result = await self.executor.execute(request_from_pb(request), context.time_remaining())
        return sandbox_pb2.ExecuteResponse(result=result_to_pb(result))

    async def ExecuteBatch(self, request: sandbox_pb2.ExecuteBatchRequest, context: grpc.aio.ServicerContext
                           ) -> AsyncIterator[sandbox_pb2.ExecuteBatchResponse]:
        self._require_started()
        reqs = [request_from_pb(r, f"requests[{i}].") for i, r in enumerate(request.requests)]
        async for index, result in self.executor.execute_batch(reqs, context.time_remaining()):
            yield sandbox_pb2.ExecuteBatchResponse(index=index, result=result_to_pb(result))

    async def GetCapabilities(self, request: sandbox_pb2.GetCapabilitiesRequest, context: grpc.aio.ServicerContext
                              ) -> sandbox_pb2.GetCapabilitiesResponse:
        self._require_started()
        caps = self.executor.capabilities
        assert caps is not None  # set before started
        s = self.executor.settings
        resp = sandbox_pb2.GetCapabilitiesResponse(
            backend=caps.backend, backend_version=caps.backend_version,
            default_limits=limits_to_pb(s.default_limits()), max_limits=limits_to_pb(s.max_limits()),
            max_concurrency=s.max_concurrency, max_queue=s.max_queue, max_batch_size=s.max_batch_size,
            max_source_bytes=s.max_source_bytes,
        )
        for lang in caps.languages:
            resp.languages.append(sandbox_pb2.LanguageSupport(
                language=_LANG_OUT[lang.language], modes=[_MODE_OUT[m] for m in lang.modes], notes=lang.notes,
                toolchain=[common_pb2.ToolInfo(name=n, version=v) for n, v in lang.toolchain]))
        details = ", ".join(f"{k}={v}" for k, v in caps.backend_details.items())
        resp.backend_version = f"{caps.backend_version} ({details})"
        return resp
