"""Found by the bad-input fuzzer (reliability.fuzz): a request whose bytes do not parse (bad UTF-8 in a
string field, a torn message) was answered UNKNOWN ("Unexpected DecodeError") by gRPC before any
handler ran. It is now INVALID_ARGUMENT naming the field path, unary and streaming, and the server
keeps serving."""

from __future__ import annotations

import os
from pathlib import Path

import grpc
import pytest
from support.kit_fake import FULL_NAME, start

from codeeval.api.generator.v1 import generator_pb2
from codeeval.api.sandbox.v1 import sandbox_pb2
from codeeval.api.trainer.v1 import trainer_pb2
from codeeval.kit.client import LocalService, open_channel
from codeeval.kit.wire import decode_error


def _bad_utf8(message, marker: bytes) -> bytes:  # type: ignore[no-untyped-def]
    data = message.SerializeToString()
    assert data.count(marker) == 1
    return data.replace(marker, b"\xff" * len(marker))


def test_decode_error_names_the_nested_repeated_field():
    req = sandbox_pb2.ExecuteBatchRequest(requests=[
        sandbox_pb2.ExecuteRequest(id="a"),
        sandbox_pb2.ExecuteRequest(id="b", program=sandbox_pb2.Program(entry_point="MARKMARK"))])
    assert decode_error(sandbox_pb2.ExecuteBatchRequest.DESCRIPTOR, _bad_utf8(req, b"MARKMARK")) == (
        "requests[1].program.entry_point", "not valid UTF-8 (byte 0)")
    torn = sandbox_pb2.ExecuteRequest(id="abc").SerializeToString()[:-1]
    path, reason = decode_error(sandbox_pb2.ExecuteRequest.DESCRIPTOR, torn)
    assert path == "id" and "runs past the end" in reason
    assert decode_error(sandbox_pb2.ExecuteRequest.DESCRIPTOR, b"\xff\xff")[0] == "request"


@pytest.mark.parametrize("method", ["Execute", "ExecuteBatch"])
async def test_kit_answers_undecodable_requests_invalid_argument(method: str):
    runner, _ = await start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{runner.port}")
    try:
        if method == "Execute":
            payload = _bad_utf8(sandbox_pb2.ExecuteRequest(id="MARKMARK"), b"MARKMARK")
            call = channel.unary_unary(f"/{FULL_NAME}/Execute")
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await call(payload, timeout=10)
            field = "id"
        else:
            payload = _bad_utf8(sandbox_pb2.ExecuteBatchRequest(
                requests=[sandbox_pb2.ExecuteRequest(id="MARKMARK")]), b"MARKMARK")
            stream = channel.unary_stream(f"/{FULL_NAME}/ExecuteBatch")
            with pytest.raises(grpc.aio.AioRpcError) as info:
                [r async for r in stream(payload, timeout=10)]
            field = "requests[0].id"
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert info.value.details() == f"{field}: not valid UTF-8 (byte 0)"
        sandbox = channel.unary_unary(f"/{FULL_NAME}/Execute",
                                      request_serializer=sandbox_pb2.ExecuteRequest.SerializeToString,
                                      response_deserializer=sandbox_pb2.ExecuteResponse.FromString)
        assert (await sandbox(sandbox_pb2.ExecuteRequest(id="ok"), timeout=10)).result.id == "ok"
    finally:
        await channel.close()
        await runner.shutdown()


@pytest.mark.integration
def test_real_trainer_answers_bad_utf8_and_torn_requests_invalid_argument(tmp_path: Path, monkeypatch):
    """The same through a real service process (the trainer: the quickest of the four to start)."""
    monkeypatch.setenv("CODEEVAL_TRAINER_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("CODEEVAL_TRAINER_ADDR", raising=False)
    svc = LocalService("trainer", log_file=tmp_path / "trainer.log")
    channel = open_channel(svc.start(timeout=120))
    try:
        get_job = channel.unary_unary("/codeeval.trainer.v1.TrainerService/GetJob")
        cases = {_bad_utf8(trainer_pb2.GetJobRequest(id="MARKMARK"), b"MARKMARK"): "id: not valid UTF-8",
                 trainer_pb2.GetJobRequest(id="abc").SerializeToString()[:-2]: "id: wire format corrupt"}
        for payload, expected in cases.items():
            with pytest.raises(grpc.RpcError) as info:
                get_job(payload, timeout=30)
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert info.value.details().startswith(expected), info.value.details()
        start = channel.unary_unary("/codeeval.trainer.v1.TrainerService/StartTraining")
        bad_key = _bad_utf8(trainer_pb2.StartTrainingRequest(config="x", overrides={"MARKMARK": "1"}), b"MARKMARK")
        with pytest.raises(grpc.RpcError) as info:
            start(bad_key, timeout=30)
        assert info.value.details().startswith("overrides[0].key: not valid UTF-8"), info.value.details()
        assert svc.proc is not None and svc.proc.poll() is None and os.path.exists(f"/proc/{svc.proc.pid}")
    finally:
        channel.close()
        svc.stop()


def test_generator_prompt_path_in_a_streaming_request():
    req = generator_pb2.GenerateRequest(prompts=[generator_pb2.Prompt(id="x", text="MARKMARK")])
    assert decode_error(generator_pb2.GenerateRequest.DESCRIPTOR, _bad_utf8(req, b"MARKMARK"))[0] == "prompts[0].text"
