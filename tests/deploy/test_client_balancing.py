"""Headless Services only spread load if the client balances: codeeval's channels use round_robin,
so calls to a target with several addresses (what DNS returns for a headless Service) reach every
replica. Two real gRPC servers on loopback stand in for two pods."""

from __future__ import annotations

from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from codeeval.kit.client import open_channel


class CountingHealth(health.HealthServicer):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def Check(self, request, context):  # noqa: N802 - gRPC method name
        self.calls += 1
        return super().Check(request, context)


def start_replica() -> tuple[grpc.Server, CountingHealth, int]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    servicer = CountingHealth()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, servicer, port


def test_calls_spread_over_every_replica():
    replicas = [start_replica() for _ in range(2)]
    try:
        target = "ipv4:" + ",".join(f"127.0.0.1:{port}" for _, _, port in replicas)
        channel = open_channel(target, token="")
        stub = health_pb2_grpc.HealthStub(channel)
        for _ in range(20):
            reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=5, wait_for_ready=True)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        channel.close()
        counts = [servicer.calls for _, servicer, _ in replicas]
        assert sum(counts) == 20 and min(counts) >= 5, counts
    finally:
        for server, _, _ in replicas:
            server.stop(None)
