"""A batch stream lost mid-way (UNAVAILABLE: a replica that died) is re-opened with only the requests
not answered yet, each result reaches the caller exactly once, and a stream that ends with requests
unanswered is an error, never a silent gap. The server is a small in-process servicer (glue); the
real sandbox replicas, one SIGKILLed mid-run, are in tests/reliability/test_faults_real.py."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest

from codeeval.api.sandbox.v1 import sandbox_pb2, sandbox_pb2_grpc
from codeeval.clients import SandboxClient, ServiceError


class _Dropping(sandbox_pb2_grpc.SandboxServiceServicer):
    """Answers the requests of each stream in reverse order; the streams listed in ``drops`` stop with
    UNAVAILABLE after that many answers. ``batches`` records the request ids of every stream."""

    def __init__(self, drops: dict[int, int], answer_all: bool = True, repeat_first: bool = False) -> None:
        self.drops = drops
        self.answer_all = answer_all
        self.repeat_first = repeat_first
        self.batches: list[list[str]] = []
        self.lock = threading.Lock()
        self.calls = 0

    def GetCapabilities(self, request, context):  # noqa: N802
        self.calls += 1
        return sandbox_pb2.GetCapabilitiesResponse()

    def ExecuteBatch(self, request, context) -> Iterator[sandbox_pb2.ExecuteBatchResponse]:  # noqa: N802
        with self.lock:
            n = len(self.batches)
            self.batches.append([r.id for r in request.requests])
        order = list(reversed(range(len(request.requests))))
        if not self.answer_all:
            order = order[1:]
        for answered, index in enumerate(order):
            if self.drops.get(n) == answered:
                context.abort(grpc.StatusCode.UNAVAILABLE, "replica went away")
            result = sandbox_pb2.ExecutionResult(outcome=sandbox_pb2.OUTCOME_PASSED,
                                                 detail=request.requests[index].id)
            yield sandbox_pb2.ExecuteBatchResponse(index=index, result=result)
            if self.repeat_first and answered == 0:
                yield sandbox_pb2.ExecuteBatchResponse(index=index, result=result)


@pytest.fixture
def serve():
    servers: list[grpc.Server] = []

    def start(servicer: _Dropping) -> str:
        srv = grpc.server(futures.ThreadPoolExecutor(2))
        sandbox_pb2_grpc.add_SandboxServiceServicer_to_server(servicer, srv)
        port = srv.add_insecure_port("127.0.0.1:0")
        srv.start()
        servers.append(srv)
        return f"127.0.0.1:{port}"

    yield start
    for srv in servers:
        srv.stop(0)


def _requests(n: int) -> tuple[list[sandbox_pb2.ExecuteRequest], list[str]]:
    ids = [f"r{i}" for i in range(n)]
    return [sandbox_pb2.ExecuteRequest(id=i) for i in ids], [f"key-{i}" for i in ids]


def _run(address: str, n: int, *replicas: _Dropping) -> tuple[SandboxClient, list[tuple[int, str, str]]]:
    requests, keys = _requests(n)
    got: list[tuple[int, str, str]] = []
    client = SandboxClient(address=address, wait_s=30)
    with client:
        for _ in range(100):  # until every replica's connection is up (the channel connects each lazily)
            if all(r.calls for r in replicas):
                break
            client.stub().GetCapabilities(sandbox_pb2.GetCapabilitiesRequest(), timeout=10)
        assert all(r.calls for r in replicas), "round robin never reached every replica"
        client.execute_batch(requests, keys, lambda i, ex: got.append((i, ex.key, ex.detail)))
    return client, got


def test_reopened_stream_carries_only_the_undelivered_requests(serve):
    server = _Dropping(drops={0: 2, 1: 1})  # first stream: 2 answers then lost; second: 1 answer then lost
    client, got = _run(serve(server), 5)
    # reverse order: stream 1 answers r4, r3; stream 2 gets r0..r2 and answers r2; stream 3 gets r0, r1
    assert server.batches == [["r0", "r1", "r2", "r3", "r4"], ["r0", "r1", "r2"], ["r0", "r1"]]
    assert sorted(got) == [(i, f"key-r{i}", f"r{i}") for i in range(5)], "each result once, under its own key"
    assert [i for i, _, _ in got] == [4, 3, 2, 1, 0]
    assert (client.reopened, client.resent) == (2, 5)


def test_a_repeated_answer_is_delivered_once(serve):
    server = _Dropping(drops={}, repeat_first=True)
    _, got = _run(serve(server), 3)
    assert sorted(i for i, _, _ in got) == [0, 1, 2]


def test_a_stream_that_ends_with_requests_unanswered_is_an_error(serve):
    server = _Dropping(drops={}, answer_all=False)
    with pytest.raises(ServiceError, match="1 of 3 requests unanswered"):
        _run(serve(server), 3)


def test_the_retry_goes_to_another_replica_of_an_address_list(serve):
    """Two fake replicas behind one ``ipv4:`` list, each losing its first stream after one answer:
    round robin sends the re-opened stream to the other replica, and each stream carries only what
    was left."""
    first, second = _Dropping(drops={0: 1}), _Dropping(drops={0: 1})
    client, got = _run(f"ipv4:{serve(first)},{serve(second)}", 4, first, second)
    assert sorted(got) == [(i, f"key-r{i}", f"r{i}") for i in range(4)]
    sizes = sorted([[len(b) for b in first.batches], [len(b) for b in second.batches]])
    assert sizes == [[3], [4, 2]], "each re-open went to the other replica, carrying what was left"
    assert (client.reopened, client.resent) == (2, 5)


class _SlowThenLost(sandbox_pb2_grpc.SandboxServiceServicer):
    """GetCapabilities: the first call runs for ``first_s`` seconds, then is lost (UNAVAILABLE)."""

    def __init__(self, first_s: float) -> None:
        self.first_s = first_s
        self.calls = 0

    def GetCapabilities(self, request, context):  # noqa: N802
        self.calls += 1
        if self.calls == 1:
            time.sleep(self.first_s)
            context.abort(grpc.StatusCode.UNAVAILABLE, "replica went away late in the call")
        return sandbox_pb2.GetCapabilitiesResponse(max_batch_size=7)


def test_a_unary_call_lost_after_longer_than_wait_s_is_still_retried():
    """The retry budget counts from the failure: a call that ran longer than ``wait_s`` before its
    replica died is sent again (it used to fail at once)."""
    server = _SlowThenLost(first_s=1.5)
    srv = grpc.server(futures.ThreadPoolExecutor(2))
    sandbox_pb2_grpc.add_SandboxServiceServicer_to_server(server, srv)
    port = srv.add_insecure_port("127.0.0.1:0")
    srv.start()
    try:
        with SandboxClient(address=f"127.0.0.1:{port}", wait_s=1.0) as client:
            assert client.capabilities().max_batch_size == 7
        assert server.calls == 2
    finally:
        srv.stop(0)
