"""The bad-input fuzzer's parts without the real services: the descriptor walker generates every kind
of bad value that applies to each field of every RPC of the four protos, each with the wire effect it
claims; and the checker catches planted faults (an INTERNAL answer, an fd leaked per call, a refusal
that names no field) while a service that answers well passes. The real services are fuzzed in
test_fuzz_real.py."""

from __future__ import annotations

import asyncio
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codeeval.api.analyzer.v1 import analyzer_pb2
from codeeval.api.generator.v1 import generator_pb2
from codeeval.api.sandbox.v1 import sandbox_pb2
from codeeval.api.trainer.v1 import trainer_pb2, trainer_pb2_grpc
from codeeval.kit.errors import NotFound
from codeeval.kit.server import Runner, Service
from codeeval.kit.settings import ServiceSettings
from reliability import fuzz, fuzz_services
from reliability.context import Context
from reliability.fuzz_checks import Answer, names_a_field, violation
from reliability.fuzz_strategies import BIG_BYTES, BIG_COUNT, KINDS, Targets, case, field_kinds, plan
from reliability.report import Profile

PROTOS = [(sandbox_pb2, "SandboxService"), (analyzer_pb2, "AnalyzerService"),
          (generator_pb2, "GeneratorService"), (trainer_pb2, "TrainerService")]
ALL_RPCS = [rpc for pb, name in PROTOS for rpc in fuzz.rpcs_of(pb, name)]


@pytest.fixture(scope="module")
def ctx() -> Iterator[Context]:
    with tempfile.TemporaryDirectory() as tmp:
        yield Context(Profile("test", scale=0.01, seconds=20.0), Path(tmp))


def _field(desc, path: str) -> FieldDescriptor:  # type: ignore[no-untyped-def]
    f = None
    for name in path.split("."):
        f = desc.fields_by_name[name]
        desc = f.message_type
    assert f is not None
    return f


def _value(msg, path: str):  # type: ignore[no-untyped-def]
    """The values at ``path`` (descending into the first element of repeated messages)."""
    *parents, last = path.split(".")
    for name in parents:
        msg = getattr(msg, name)
        if isinstance(msg, Iterator) or hasattr(msg, "add"):
            msg = msg[0]
    return msg, last


def test_every_rpc_of_the_four_protos_is_covered():
    assert sorted(r.name for r in ALL_RPCS) == sorted(
        ["Execute", "ExecuteBatch", "GetCapabilities", "Analyze", "Score", "GetCapabilities", "Generate",
         "LoadAdapter", "UnloadAdapter", "ListAdapters", "GetCapabilities", "StartTraining", "WatchJob", "GetJob",
         "ListJobs", "CancelJob", "ListConfigs"])


def test_the_walker_plans_every_kind_that_applies_to_each_field(ctx: Context):
    seen: set[str] = set()
    for svc in fuzz_services.services(ctx):
        for rpc in svc.rpcs:
            planned = plan(rpc.desc, svc.targets)
            kinds = {k for _, k in planned}
            assert {"typical", "torn", "garbage"} <= kinds, rpc.name
            for path, kind in planned:
                if path:
                    assert kind in field_kinds(_field(rpc.desc, path), svc.targets)
            for f in rpc.desc.fields:  # each top-level field gets every kind of its type
                assert {(f.name, k) for k in field_kinds(f, svc.targets)} <= set(planned), (rpc.name, f.name)
            seen |= kinds
    assert seen == set(KINDS)


@settings(max_examples=1, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_each_planned_case_has_the_wire_effect_of_its_kind(data: st.DataObject):
    ctx = Context(Profile("test", scale=0.01, seconds=1.0), Path(tempfile.mkdtemp(prefix="fuzz-strategies-")))
    for svc in fuzz_services.services(ctx):
        for rpc in svc.rpcs:
            cls = rpc.response  # noqa: F841 - every RPC has a response type to decode into
            for path, kind in plan(rpc.desc, svc.targets):
                c = case(data.draw, rpc.desc, svc.targets, path, kind)
                _check_case(rpc, svc.targets, c, path, kind)


def _check_case(rpc: fuzz.Rpc, targets: Targets, c, path: str, kind: str) -> None:  # type: ignore[no-untyped-def]
    parse = fuzz.message_class(rpc.desc).FromString
    where = f"{rpc.name} {path} {kind}"
    if kind == "torn":
        assert c.payload != c.message.SerializeToString() or not c.payload, where
        return
    if kind == "garbage":
        assert c.payload, where
        return
    f = _field(rpc.desc, path) if path else None
    if kind == "non_utf8" and f is not None and f.type == FieldDescriptor.TYPE_STRING:
        with pytest.raises(DecodeError):
            parse(c.payload)
        return
    msg = parse(c.payload)
    if f is None:
        return
    holder, name = _value(msg, path)
    value = getattr(holder, name)
    if kind == "oversized" and f.type in (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES):
        values = list(value) if f.is_repeated else [value]
        assert max(len(v) for v in values) >= BIG_BYTES // 2, where
    elif kind == "too_many":
        assert len(value) == BIG_COUNT, where
    elif kind == "wrong_enum":
        defined = {v.number for v in f.enum_type.values}
        assert (set(value) if f.is_repeated else {value}) - defined, where
    elif kind == "negative" and f.type in (FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_INT64):
        assert value < 0, where
    elif kind == "non_utf8":  # bytes
        assert b"\xff" in (value if not f.is_repeated else value[0]), where
    elif kind == "duplicate_ids":
        assert len(value) == 2 and value[0] == value[1], where
    elif kind == "missing" and not f.is_repeated and f.has_presence:
        assert not holder.HasField(name), where
    elif kind == "targeted" and not f.message_type:
        hostile = targets.hostile[f.name]
        got = list(value) if f.is_repeated else [value]
        assert all(v in hostile for v in got), where


def test_generate_is_capped_but_over_the_limit_values_are_kept():
    req = generator_pb2.GenerateRequest(prompts=[generator_pb2.Prompt(text="x")] * 10,
                                        sampling=generator_pb2.SamplingParams(max_tokens=0, n=30))
    fuzz_services.cap_generate(req, "typical")
    assert (req.sampling.max_tokens, req.sampling.n, len(req.prompts)) == (fuzz.GEN_MAX_NEW_TOKENS, 2, 3)
    big = generator_pb2.GenerateRequest(prompts=[generator_pb2.Prompt(text="x")] * 300,
                                        sampling=generator_pb2.SamplingParams(max_tokens=5000, n=33))
    fuzz_services.cap_generate(big, "oversized")
    assert (big.sampling.max_tokens, big.sampling.n, len(big.prompts)) == (5000, 33, 300)


def test_violation_rules():
    names = {"id", "config"}
    assert violation(Answer("OK", "", 0.1), names) is None
    assert violation(Answer("NOT_FOUND", "id: no job 'x'", 0.1), names) is None
    assert violation(Answer("INVALID_ARGUMENT", "request: wire format corrupt", 0.1), names) is None
    assert "INTERNAL" in str(violation(Answer("INTERNAL", "internal error", 0.1), names))
    assert "UNKNOWN" in str(violation(Answer("UNKNOWN", "Unexpected DecodeError", 0.1), names))
    assert "hang" in str(violation(Answer("DEADLINE_EXCEEDED", "", 60.0), names))
    assert "without a field name" in str(violation(Answer("INVALID_ARGUMENT", "bad request", 0.1), names))
    assert violation(Answer("UNAVAILABLE", "id: no hub", 0.1), names, {"UNAVAILABLE": "why"}) is None
    assert "UNAVAILABLE" in str(violation(Answer("UNAVAILABLE", "id: no hub", 0.1), names))
    assert not names_a_field("identity configured", names)


class Planted(trainer_pb2_grpc.TrainerServiceServicer):
    """A trainer whose GetJob answers INTERNAL for ids with a '[', whose ListJobs leaks an fd per
    call, and whose CancelJob refuses without naming a field; ``good`` answers everything well."""

    def __init__(self, good: bool) -> None:
        self.good = good
        self.leaked: list[int] = []

    async def GetJob(self, request, context):  # type: ignore[no-untyped-def]  # noqa: N802
        if not self.good and "[" in request.id:
            raise RuntimeError("planted")  # the kit answers INTERNAL
        raise NotFound("no such job", field="id")

    async def ListJobs(self, request, context):  # type: ignore[no-untyped-def]  # noqa: N802
        if not self.good:
            self.leaked.append(os.open(os.devnull, os.O_RDONLY))
        return trainer_pb2.ListJobsResponse()

    async def CancelJob(self, request, context):  # type: ignore[no-untyped-def]  # noqa: N802
        if not self.good:
            await context.abort(grpc.StatusCode.NOT_FOUND, "bad request")
        raise NotFound("no such job", field="id")

    async def StartTraining(self, request, context):  # type: ignore[no-untyped-def]  # noqa: N802
        raise NotFound("unknown", field="config")

    async def WatchJob(self, request, context):  # type: ignore[no-untyped-def]  # noqa: N802
        raise NotFound("no such job", field="id")
        yield  # pragma: no cover - makes this a stream

    async def ListConfigs(self, request, context):  # type: ignore[no-untyped-def]  # noqa: N802
        return trainer_pb2.ListConfigsResponse()


def _serve(planted: Planted) -> tuple[int, Callable[[], None]]:
    """``planted`` behind the real service kit (interceptors, health) on a loop of its own thread."""
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()

    async def ready() -> str | None:
        return None

    async def start() -> Runner:
        service = Service(name="trainer", full_name="codeeval.trainer.v1.TrainerService", readiness=ready,
                          register=lambda s: trainer_pb2_grpc.add_TrainerServiceServicer_to_server(planted, s))
        runner = Runner(service, ServiceSettings.model_validate({"health_recheck_seconds": 0.05}))
        await runner.start()
        await runner.wait_ready(10)
        return runner

    runner = asyncio.run_coroutine_threadsafe(start(), loop).result(30)

    def stop() -> None:
        asyncio.run_coroutine_threadsafe(runner.shutdown(grace=0.1), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)

    return runner.port, stop


@pytest.mark.parametrize("good", [False, True])
def test_the_checker_catches_planted_faults_and_passes_a_good_service(ctx: Context, monkeypatch, good: bool):
    monkeypatch.setattr(fuzz, "SETTLE_S", 1.0)
    planted = Planted(good)
    port, stop = _serve(planted)
    try:
        svc = fuzz.Service("trainer", fuzz.rpcs_of(trainer_pb2, "TrainerService"),
                           Targets(hostile={"id": ["[[[", "../x"]}, required={"id"}))
        section = fuzz.fuzz_service(ctx, svc, f"127.0.0.1:{port}", os.getpid(), seconds=15.0)
    finally:
        stop()
        for fd in planted.leaked:
            os.close(fd)
    rows = {r["rpc"]: r for r in section.rows}
    assert all(r["requests"] > 0 for r in rows.values()), rows
    if good:
        assert section.ok, section.problems
        return
    text = "\n".join(section.problems)
    assert 'GetJob: INTERNAL: internal error (request id N) <- targeted id: id: "[[["' in text.replace(
        text[text.find("(request id ") + 12:text.find(")", text.find("(request id "))], "N"), text
    assert "CancelJob: NOT_FOUND without a field name: bad request" in text, text
    assert any(p.startswith("open fds ") for p in section.problems), text
    assert rows["GetJob"]["violations"] > 0 and rows["ListJobs"]["violations"] == 0, rows


def test_the_warm_up_ends_at_the_rss_plateau_within_its_bound():
    def warm(rss: list[int]) -> tuple[list[int], list[int]]:
        rounds: list[int] = []
        got = fuzz.warm_up(rounds.append, lambda: rss[len(rounds) - 1])
        return got, rounds

    # the analyzer's RSS (MiB) after each round of full-profile fuzz cases: rising, then flat
    settling = [289, 298, 298, 302, 302, 302, 304, 306, 305, 305]
    got, rounds = warm(settling)
    assert got == [289, 298, 298, 302, 302, 302] and rounds == list(range(6))  # 302 -> 302 -> 302: < 1% twice
    flat = [300] * 20
    assert warm(flat)[0] == [300] * fuzz.WARMUP_ROUNDS  # never fewer rounds than that
    leak = [300 + 10 * i for i in range(40)]
    got, rounds = warm(leak)
    assert len(got) == fuzz.MAX_WARMUP_ROUNDS and rounds[-1] == fuzz.MAX_WARMUP_ROUNDS - 1  # bounded
    assert "stopped at its bound" in fuzz._warm_up_note(got, 1.0)
    assert "ended at the RSS plateau" in fuzz._warm_up_note(settling[:6], 1.0)


def test_the_baseline_rss_is_the_top_of_the_warm_ups_band():
    mib = 2**20
    settled = fuzz.Resources(rss_kib=249 * 1024, fds=188, processes={1: "python", 2: "java"})
    # the full profile's analyzer: the reading after the warm-up sat under the band's top
    base = fuzz.warm_baseline(settled, [244 * mib, 251 * mib, 254 * mib, 256 * mib, 249 * mib])
    assert base.rss_kib == 256 * 1024 and (base.fds, base.processes) == (settled.fds, settled.processes)
    after = fuzz.Resources(rss_kib=263 * 1024, fds=188, processes=settled.processes)
    assert fuzz.resource_problems(base, after) == []  # +2.7% over the band's top
    assert fuzz.resource_problems(settled, after)  # +5.6% over the one reading
    # a reading over the band (growth after the last round) stays the baseline; older rounds do not count
    assert fuzz.warm_baseline(settled, [300 * mib, 240 * mib, 240 * mib, 240 * mib]).rss_kib == 249 * 1024
    assert fuzz.warm_baseline(settled, []).rss_kib == 249 * 1024
