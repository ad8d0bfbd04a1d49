"""In-process server tests for the service kit (port 0): health, auth, error mapping, deadlines,
size limits, graceful shutdown. The servicer here is a fake: what is under test is the kit."""

from __future__ import annotations

import asyncio
import json
import logging

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from support.kit_fake import FULL_NAME, Gate, start

from codeeval.api.sandbox.v1 import sandbox_pb2, sandbox_pb2_grpc
from codeeval.kit.server import Runner, Service
from codeeval.kit.settings import ServiceSettings


def stub(runner: Runner, token: str | None = None):
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{runner.port}")
    md = (("authorization", f"Bearer {token}"),) if token else ()
    return channel, sandbox_pb2_grpc.SandboxServiceStub(channel), health_pb2_grpc.HealthStub(channel), md


async def health_status(health, service: str = "") -> int:
    return (await health.Check(health_pb2.HealthCheckRequest(service=service))).status


async def test_health_not_serving_until_ready_then_not_serving_on_shutdown():
    gate = Gate()
    runner, _ = await start(gate)
    channel, _, health, _ = stub(runner)
    try:
        await asyncio.sleep(0.2)
        assert await health_status(health) == health_pb2.HealthCheckResponse.NOT_SERVING
        assert await health_status(health, FULL_NAME) == health_pb2.HealthCheckResponse.NOT_SERVING
        gate.reason = None
        await runner.wait_ready(5)
        assert await health_status(health) == health_pb2.HealthCheckResponse.SERVING
        assert await health_status(health, FULL_NAME) == health_pb2.HealthCheckResponse.SERVING
        gate.reason = "docker daemon gone"  # a dependency breaks: health follows
        for _ in range(100):
            if await health_status(health) == health_pb2.HealthCheckResponse.NOT_SERVING:
                break
            await asyncio.sleep(0.02)
        assert await health_status(health) == health_pb2.HealthCheckResponse.NOT_SERVING
        gate.reason = None
        for _ in range(100):
            if await health_status(health) == health_pb2.HealthCheckResponse.SERVING:
                break
            await asyncio.sleep(0.02)
        watch = health.Watch(health_pb2.HealthCheckRequest(service=FULL_NAME))
        assert (await watch.read()).status == health_pb2.HealthCheckResponse.SERVING
        shutdown = asyncio.create_task(runner.shutdown(grace=1))
        assert (await watch.read()).status == health_pb2.HealthCheckResponse.NOT_SERVING
        await shutdown
    finally:
        await channel.close()
        await runner.shutdown()


async def test_auth_rejects_missing_and_wrong_token_accepts_right_one_and_exempts_health():
    runner, _ = await start(auth_token="s3cret")
    channel, sandbox, health, _ = stub(runner)
    try:
        req = sandbox_pb2.ExecuteRequest(id="x")
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await sandbox.Execute(req)
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "missing" in info.value.details()
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await sandbox.Execute(req, metadata=(("authorization", "Bearer nope"),))
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.aio.AioRpcError) as info:
            call = sandbox.ExecuteBatch(sandbox_pb2.ExecuteBatchRequest(requests=[req]))
            [r async for r in call]
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        ok = await sandbox.Execute(req, metadata=(("authorization", "Bearer s3cret"),))
        assert ok.result.id == "x"
        await health_status(health)  # kubelet probes send no token
    finally:
        await channel.close()
        await runner.shutdown()


async def test_auth_token_from_file(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")
    runner, _ = await start(auth_token_file=token_file)
    channel, sandbox, _, _ = stub(runner)
    try:
        ok = await sandbox.Execute(sandbox_pb2.ExecuteRequest(id="y"),
                                   metadata=(("authorization", "Bearer from-file"),))
        assert ok.result.id == "y"
    finally:
        await channel.close()
        await runner.shutdown()


@pytest.mark.parametrize(("rid", "code", "fragment"), [
    ("bad", grpc.StatusCode.INVALID_ARGUMENT, "id: must not be 'bad'"),
    ("missing", grpc.StatusCode.NOT_FOUND, "id: no such thing"),
])
async def test_domain_errors_map_to_specific_codes(rid, code, fragment):
    runner, _ = await start()
    channel, sandbox, _, _ = stub(runner)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await sandbox.Execute(sandbox_pb2.ExecuteRequest(id=rid))
        assert info.value.code() == code
        assert info.value.details() == fragment
    finally:
        await channel.close()
        await runner.shutdown()


async def _access_records(caplog, attempts: int = 100) -> list:
    """The access-log records: the server writes its line after the client has its answer, so wait
    for it (a bounded number of event-loop turns) instead of racing it."""
    for _ in range(attempts):
        access = [r for r in caplog.records if r.name == "codeeval.rpc" and r.getMessage() == "rpc"]
        if access:
            return access
        await asyncio.sleep(0.02)
    return []


async def test_unexpected_error_is_internal_without_traceback_and_logged(caplog):
    caplog.set_level(logging.INFO)  # for the whole test: the access line may come after the answer
    runner, _ = await start()
    channel, sandbox, _, _ = stub(runner)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await sandbox.Execute(sandbox_pb2.ExecuteRequest(id="crash"), metadata=(("x-request-id", "rid-42"),))
        assert info.value.code() == grpc.StatusCode.INTERNAL
        assert "secret internal detail" not in info.value.details()
        assert "Traceback" not in info.value.details()
        assert "rid-42" in info.value.details()
        assert any("secret internal detail" in (r.exc_text or "") or r.exc_info for r in caplog.records)
        access = await _access_records(caplog)
        assert access and access[-1].fields["code"] == "INTERNAL"
    finally:
        await channel.close()
        await runner.shutdown()


async def test_request_id_returned_in_trailing_metadata():
    runner, _ = await start()
    channel, sandbox, _, _ = stub(runner)
    try:
        call = sandbox.Execute(sandbox_pb2.ExecuteRequest(id="z"), metadata=(("x-request-id", "abc123"),))
        await call
        assert ("x-request-id", "abc123") in tuple(await call.trailing_metadata())
        call = sandbox.Execute(sandbox_pb2.ExecuteRequest(id="z"))
        await call
        generated = dict(tuple(await call.trailing_metadata()))["x-request-id"]
        assert len(generated) == 16
    finally:
        await channel.close()
        await runner.shutdown()


async def test_streaming_error_mid_stream_keeps_earlier_results():
    runner, _ = await start()
    channel, sandbox, _, _ = stub(runner)
    try:
        req = sandbox_pb2.ExecuteBatchRequest(requests=[sandbox_pb2.ExecuteRequest(id=i) for i in ("a", "bad", "c")])
        got = []
        with pytest.raises(grpc.aio.AioRpcError) as info:
            async for item in sandbox.ExecuteBatch(req):
                got.append(item.result.id)
        assert got == ["a"]
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert info.value.details() == "requests: queue full"
    finally:
        await channel.close()
        await runner.shutdown()


async def test_deadline_exceeded():
    runner, _ = await start()
    channel, sandbox, _, _ = stub(runner)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await sandbox.Execute(sandbox_pb2.ExecuteRequest(id="slow:2"), timeout=0.2)
        assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    finally:
        await channel.close()
        await runner.shutdown()


async def test_oversized_request_rejected_and_server_keeps_serving():
    runner, _ = await start(max_request_bytes=1024)
    channel, sandbox, _, _ = stub(runner)
    try:
        big = sandbox_pb2.ExecuteRequest(id="big", program=sandbox_pb2.Program(source=b"x" * 4096))
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await sandbox.Execute(big)
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert (await sandbox.Execute(sandbox_pb2.ExecuteRequest(id="small"))).result.id == "small"
    finally:
        await channel.close()
        await runner.shutdown()


async def test_graceful_shutdown_finishes_in_flight_calls_and_refuses_new_ones():
    runner, fake = await start()
    channel, sandbox, _, _ = stub(runner)
    try:
        in_flight = asyncio.ensure_future(sandbox.Execute(sandbox_pb2.ExecuteRequest(id="slow:0.5")))
        await asyncio.wait_for(fake.started.wait(), 5)
        shutdown = asyncio.create_task(runner.shutdown(grace=5))
        await asyncio.sleep(0.05)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await sandbox.Execute(sandbox_pb2.ExecuteRequest(id="late"), timeout=2)
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        assert (await in_flight).result.id == "slow:0.5"
        await shutdown
    finally:
        await channel.close()


async def test_reflection_lists_the_service():
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    runner, _ = await start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{runner.port}")
    try:
        stub_ = reflection_pb2_grpc.ServerReflectionStub(channel)
        call = stub_.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
        names = [s.name async for resp in call for s in resp.list_services_response.service]
        assert FULL_NAME in names and "grpc.health.v1.Health" in names
    finally:
        await channel.close()
        await runner.shutdown()


def test_json_log_lines_carry_request_id():
    from codeeval.kit import logs

    record = logging.LogRecord("codeeval.rpc", logging.INFO, __file__, 1, "rpc", None, None)
    record.fields = {"method": "/x/Y", "code": "OK"}
    token = logs.request_id.set("rid-7")
    try:
        line = json.loads(logs.JsonFormatter().format(record))
    finally:
        logs.request_id.reset(token)
    assert line["request_id"] == "rid-7" and line["method"] == "/x/Y" and line["msg"] == "rpc"


async def test_reflection_requires_the_token():
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    runner, _ = await start(auth_token="s3cret")
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{runner.port}")
    try:
        stub_ = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        for md in ((), (("authorization", "Bearer nope"),)):
            with pytest.raises(grpc.aio.AioRpcError) as info:
                [r async for r in stub_.ServerReflectionInfo(iter([request]), metadata=md)]
            assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        call = stub_.ServerReflectionInfo(iter([request]), metadata=(("authorization", "Bearer s3cret"),))
        names = [s.name async for resp in call for s in resp.list_services_response.service]
        assert FULL_NAME in names
    finally:
        await channel.close()
        await runner.shutdown()


async def test_auth_fails_closed_for_every_handler_kind():
    """A generic service with one method of each kind: none of them runs without the token."""
    ran: list[str] = []

    async def uu(request, context):
        ran.append("uu")
        return request

    async def us(request, context):
        ran.append("us")
        yield request

    async def su(requests, context):
        ran.append("su")
        return b"".join([r async for r in requests])

    async def ss(requests, context):
        ran.append("ss")
        async for r in requests:
            yield r

    ident = {"request_deserializer": None, "response_serializer": None}
    generic = grpc.method_handlers_generic_handler("test.Kinds", {
        "UU": grpc.unary_unary_rpc_method_handler(uu, **ident),
        "US": grpc.unary_stream_rpc_method_handler(us, **ident),
        "SU": grpc.stream_unary_rpc_method_handler(su, **ident),
        "SS": grpc.stream_stream_rpc_method_handler(ss, **ident),
    })
    service = Service(name="sandbox", full_name=FULL_NAME,
                      register=lambda server: server.add_generic_rpc_handlers((generic,)),
                      readiness=Gate.__call__.__get__(type("Open", (), {"reason": None})()))
    runner = Runner(service, ServiceSettings(health_recheck_seconds=0.05, auth_token="s3cret"))
    await runner.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{runner.port}")
    calls = {
        "UU": lambda md: channel.unary_unary("/test.Kinds/UU")(b"x", metadata=md),
        "US": lambda md: _collect(channel.unary_stream("/test.Kinds/US")(b"x", metadata=md)),
        "SU": lambda md: channel.stream_unary("/test.Kinds/SU")(iter([b"x"]), metadata=md),
        "SS": lambda md: _collect(channel.stream_stream("/test.Kinds/SS")(iter([b"x"]), metadata=md)),
    }
    try:
        for name, call in calls.items():
            for md in ((), (("authorization", "Bearer nope"),)):
                with pytest.raises(grpc.aio.AioRpcError) as info:
                    await call(md)
                assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED, name
        assert ran == []
        for name, call in calls.items():
            out = await call((("authorization", "Bearer s3cret"),))
            assert out in (b"x", [b"x"]), name
        assert sorted(ran) == ["ss", "su", "us", "uu"]
    finally:
        await channel.close()
        await runner.shutdown()


async def _collect(call):
    return [r async for r in call]
