"""Start-up failures that cannot heal (codeeval.kit.startup): the bootstrap gives up at once, the
process exits with the reason, and LocalService raises it with the log path; a slow start is
reported every few seconds with why it is not ready yet.

The service here is a fake behind the real kit (Runner, serve_module, LocalService); the real
services failing their self-checks are in test_startup_real_services.py."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from codeeval.kit.client import LocalService, default_log_dir
from codeeval.kit.server import Runner, Service
from codeeval.kit.settings import ServiceSettings
from codeeval.kit.startup import EXIT_FATAL, FatalStartupError, ServiceStartError, unhealable

FAKE = '''
import asyncio, sys, time
from pathlib import Path
from types import SimpleNamespace
from codeeval.kit.server import Service, serve_module
from codeeval.kit.settings import ServiceSettings
from codeeval.kit.startup import FatalStartupError

ready, mode = Path(sys.argv[1]), sys.argv[2]
t0 = time.monotonic()

async def readiness():
    if mode == "slow":
        return None if time.monotonic() - t0 > 2.5 else "loading the model (fake)"
    if mode == "fatal-probe":
        raise FatalStartupError("probe: Permission denied: support dir /nowhere")
    return None

async def start():
    if mode == "fatal-start":
        raise FileNotFoundError("javac not found on PATH")

def create(settings):
    return Service(name="fake", full_name="codeeval.fake.v1.Fake", register=lambda server: None,
                   readiness=readiness, start=start)

if mode == "crash":
    raise ImportError("libnuma.so.1: cannot open shared object file")
serve_module("fake", SimpleNamespace(SETTINGS=ServiceSettings, create=create), None, ready, host="127.0.0.1", port=0)
'''


class FakeLocal(LocalService):
    """LocalService running the fake above instead of ``codeeval serve``."""

    def __init__(self, script: Path, mode: str, log_file: Path) -> None:
        super().__init__("fake", log_file=log_file)
        self.script, self.mode = script, mode

    def command(self, ready: Path) -> list[str]:
        return [sys.executable, str(self.script), str(ready), self.mode]


@pytest.fixture
def fake(tmp_path: Path):
    script = tmp_path / "fake_service.py"
    script.write_text(FAKE)
    made: list[FakeLocal] = []

    def make(mode: str) -> FakeLocal:
        svc = FakeLocal(script, mode, tmp_path / "logs" / "fake.log")
        made.append(svc)
        return svc

    yield make
    for svc in made:
        svc.stop()


@pytest.mark.parametrize(("mode", "reason"), [
    ("fatal-start", "start-up failed: FileNotFoundError: javac not found on PATH"),
    ("fatal-probe", "probe: Permission denied: support dir /nowhere"),
    ("crash", "ImportError: libnuma.so.1: cannot open shared object file"),
])
def test_a_start_that_cannot_heal_fails_at_once_with_reason_and_log(fake, mode, reason):
    svc = fake(mode)
    with pytest.raises(ServiceStartError) as info:
        svc.start(timeout=300)
    err = info.value
    assert reason in err.reason and err.log_file == svc.log_file
    assert str(svc.log_file) in str(err) and "fake service failed to start" in str(err)
    assert svc.proc is not None and svc.proc.returncode == (1 if mode == "crash" else EXIT_FATAL)
    log = svc.log_file.read_text()
    assert reason in log
    if mode != "crash":  # the bootstrap said it on stderr (the log here) in one line
        assert f"codeeval serve fake: fatal: {err.reason}" in log


def test_slow_start_reports_which_service_and_why_then_serves(fake):
    svc = fake("slow")
    lines: list[str] = []
    address = svc.start(timeout=300, on_wait=lines.append, report_every=0.3)
    assert address.startswith("127.0.0.1:")
    assert lines and all(line.startswith("waiting for fake (") for line in lines)
    assert any("NOT_SERVING: loading the model (fake)" in line for line in lines), lines


def test_the_log_goes_to_a_state_dir_when_no_file_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv("CODEEVAL_LOG_DIR", str(tmp_path / "state"))
    assert LocalService("sandbox").log_file == tmp_path / "state" / "sandbox.log"
    monkeypatch.delenv("CODEEVAL_LOG_DIR")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert default_log_dir() == tmp_path / "xdg" / "codeeval" / "logs"


def test_unhealable_texts():
    assert unhealable("bwrap: Can't mkdir /x: Permission denied")
    assert unhealable("OSError: libnuma.so.1: cannot open shared object file")
    assert not unhealable("probe run ended in TIMEOUT: wall time 10000 ms exceeded")


def _service(readiness, start=None) -> Service:
    return Service(name="fake", full_name="codeeval.fake.v1.Fake", register=lambda server: None,
                   readiness=readiness, start=start)


async def test_runner_fatal_readiness_before_ready_fails_the_start_and_keeps_not_serving(tmp_path):
    async def readiness():
        raise FatalStartupError("no javac on PATH")

    runner = Runner(_service(readiness), ServiceSettings(host="127.0.0.1", port=0), tmp_path / "reason")
    await runner.start()
    try:
        with pytest.raises(FatalStartupError, match="no javac on PATH"):
            await runner.wait_ready(30)
        assert runner.fatal == "no javac on PATH" and runner.failed.is_set()
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{runner.port}")
        resp = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        assert resp.status == health_pb2.HealthCheckResponse.NOT_SERVING
        await channel.close()
    finally:
        await runner.shutdown(0)


async def test_runner_fatal_after_ready_is_only_a_reason(tmp_path):
    state = {"n": 0}

    async def readiness():
        state["n"] += 1
        if state["n"] == 1:
            return None
        raise FatalStartupError("Permission denied after serving")

    runner = Runner(_service(readiness), ServiceSettings(host="127.0.0.1", port=0, health_recheck_seconds=0.05),
                    tmp_path / "reason")
    await runner.start()
    try:
        await runner.wait_ready(30)
        deadline = time.monotonic() + 30
        while not (tmp_path / "reason").exists() or "after serving" not in (tmp_path / "reason").read_text():
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        assert runner.fatal is None and not runner.failed.is_set()
    finally:
        await runner.shutdown(0)
