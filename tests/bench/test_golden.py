"""No behaviour lost: the default suite scored from the fixed samples of golden.py, with the real
sandbox and analyzer, gives the per-item records captured before the typed-records refactor."""

from __future__ import annotations

import json
import shutil
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from bench_fakes import FakeGenerator
from golden import RECORDS, generator_answers, golden_samples, per_item_records

from codeeval.api.generator.v1 import generator_pb2_grpc
from codeeval.cli.main import main

pytestmark = [pytest.mark.slow, pytest.mark.integration,
              pytest.mark.skipif(shutil.which("bwrap") is None, reason="the real sandbox needs bubblewrap")]


def test_golden_samples_are_the_recorded_ones():
    recorded = [json.loads(line) for line in (RECORDS.parent / "golden_samples.jsonl").read_text().splitlines()]
    assert recorded == golden_samples()


def test_generated_answers_give_the_golden_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    for svc in ("sandbox", "analyzer"):
        monkeypatch.delenv(f"CODEEVAL_{svc.upper()}_ADDR", raising=False)
    server = grpc.server(futures.ThreadPoolExecutor(4))
    generator_pb2_grpc.add_GeneratorServiceServicer_to_server(FakeGenerator(generator_answers(golden_samples())),
                                                              server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    monkeypatch.setenv("CODEEVAL_GENERATOR_ADDR", f"127.0.0.1:{port}")
    try:
        assert main(["bench", "--out", str(tmp_path / "out")]) == 0
    finally:
        server.stop(0)
    assert per_item_records(tmp_path / "out" / "base") == json.loads(RECORDS.read_text())


def test_samples_file_gives_the_golden_records_without_a_generator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    for svc in ("sandbox", "analyzer"):
        monkeypatch.delenv(f"CODEEVAL_{svc.upper()}_ADDR", raising=False)
    monkeypatch.setenv("CODEEVAL_GENERATOR_ADDR", "127.0.0.1:1")  # never contacted: nothing listens there
    samples = RECORDS.parent / "golden_samples.jsonl"
    assert main(["bench", "--samples", str(samples), "--out", str(tmp_path / "out")]) == 0
    assert per_item_records(tmp_path / "out" / "base") == json.loads(RECORDS.read_text())
