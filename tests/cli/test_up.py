"""`codeeval up` with real services: starts them, waits for SERVING, prints addresses, stops them
all on Ctrl-C (SIGINT) without leaving a process behind."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import grpc
import pytest

from codeeval.api.analyzer.v1 import analyzer_pb2, analyzer_pb2_grpc
from codeeval.api.sandbox.v1 import sandbox_pb2, sandbox_pb2_grpc
from codeeval.kit.client import open_channel

EXPORT = re.compile(r"^export CODEEVAL_(\w+)_ADDR=(\S+)$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split()[2] != "Z"


@pytest.mark.integration
@pytest.mark.slow
def test_up_starts_serving_services_and_ctrl_c_stops_them(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "codeeval.cli", "up", "sandbox", "analyzer", "--log-dir", str(tmp_path / "logs"),
         "--timeout", "300"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        # Ctrl-C as a terminal sends it, even when this test runs in a background job (`make test-slow &`
        # starts it with SIGINT ignored, which children inherit and Python then honours)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    addrs: dict[str, str] = {}
    try:
        deadline = time.monotonic() + 600
        while len(addrs) < 2 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            if m := EXPORT.match(line.strip()):
                addrs[m.group(1).lower()] = m.group(2)
        assert set(addrs) == {"sandbox", "analyzer"}, proc.stderr.read() if proc.poll() is not None else addrs
        with open_channel(addrs["sandbox"]) as ch:
            caps = sandbox_pb2_grpc.SandboxServiceStub(ch).GetCapabilities(
                sandbox_pb2.GetCapabilitiesRequest(), timeout=30)
            assert caps.backend
        with open_channel(addrs["analyzer"]) as ch:
            caps = analyzer_pb2_grpc.AnalyzerServiceStub(ch).GetCapabilities(
                analyzer_pb2.GetCapabilitiesRequest(), timeout=30)
            assert any(t.name == "pylint" for t in caps.tools)
        children = [int(p) for p in subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                                                    text=True).stdout.split()]
        assert len(children) == 2
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0
        assert "stopped" in proc.stderr.read()
        for pid in children:
            for _ in range(100):
                if not _alive(pid):
                    break
                time.sleep(0.1)
            assert not _alive(pid), f"service process {pid} survived"
        with open_channel(addrs["sandbox"]) as ch, pytest.raises(grpc.RpcError):
            sandbox_pb2_grpc.SandboxServiceStub(ch).GetCapabilities(sandbox_pb2.GetCapabilitiesRequest(), timeout=2)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.mark.integration
def test_up_ends_at_once_when_a_service_fails_its_start_up(tmp_path):
    """The analyzer without PMD cannot become ready: up exits 2 with the reason and the log's path,
    long before its --timeout, and leaves no process behind."""
    env = {**os.environ, "CODEEVAL_ANALYZER_PMD_HOME": str(tmp_path / "no-pmd")}
    proc = subprocess.run([sys.executable, "-m", "codeeval.cli", "up", "analyzer", "--log-dir", str(tmp_path / "logs"),
                           "--timeout", "3000"], capture_output=True, text=True, env=env, timeout=600, check=False)
    log = tmp_path / "logs" / "analyzer.log"
    assert proc.returncode == 2, proc.stderr
    assert "analyzer service failed to start" in proc.stderr and "no pmd-java jar" in proc.stderr, proc.stderr
    assert str(log) in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert "no pmd-java jar" in log.read_text()
