"""Fixtures of the bench tests: the fake servicers of bench_fakes.py served in-process."""

from __future__ import annotations

from concurrent import futures

import grpc
import pytest
from bench_fakes import FakeAnalyzer, FakeGenerator, FakeSandbox, FakeServices, default_answers

from codeeval.api.analyzer.v1 import analyzer_pb2_grpc
from codeeval.api.generator.v1 import generator_pb2_grpc
from codeeval.api.sandbox.v1 import sandbox_pb2_grpc


@pytest.fixture
def fake_services(monkeypatch):
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    fakes = FakeServices(FakeGenerator(default_answers()), FakeSandbox(), FakeAnalyzer(), "")
    generator_pb2_grpc.add_GeneratorServiceServicer_to_server(fakes.generator, server)
    sandbox_pb2_grpc.add_SandboxServiceServicer_to_server(fakes.sandbox, server)
    analyzer_pb2_grpc.add_AnalyzerServiceServicer_to_server(fakes.analyzer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    fakes.address = f"127.0.0.1:{port}"
    for svc in ("generator", "sandbox", "analyzer"):
        monkeypatch.setenv(f"CODEEVAL_{svc.upper()}_ADDR", fakes.address)
    yield fakes
    server.stop(0)
