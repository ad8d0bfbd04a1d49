"""deploy/compose.yaml for real: docker-compose builds and starts the sandbox and the analyzer from
it (registry-free base, secrets from make-secrets.sh), both become healthy, and they serve real
calls on their published loopback ports with the token and refuse calls without it.

The generator (multi-GB CPU image, tests/deploy/test_generator_image.py) and the trainer (CUDA base,
needs a registry) are not started here; `docker-compose config` still validates the whole file.
"""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from pathlib import Path

import grpc
import pytest

from codeeval.api.common.v1 import common_pb2
from codeeval.kit.client import open_channel
from deploy import dockerutil as du
from deploy.conftest import DEPLOY

pytestmark = [pytest.mark.docker, pytest.mark.slow]
COMPOSE = DEPLOY / "compose.yaml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Compose:
    def __init__(self, env: dict[str, str]) -> None:
        self.project = f"codeeval-test-{uuid.uuid4().hex[:8]}"
        self.env = {**os.environ, **env}

    def __call__(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
        # From deploy/, as documented: the sandbox's seccomp profile path is relative to the working dir.
        out = subprocess.run(["docker-compose", "-f", str(COMPOSE), "-p", self.project, *args], env=self.env,
                             cwd=DEPLOY, capture_output=True, text=True, timeout=timeout)
        if check and out.returncode != 0:
            raise AssertionError(f"docker-compose {' '.join(args)} exited {out.returncode}:\n{out.stdout[-3000:]}"
                                 f"\n{out.stderr[-3000:]}")
        return out


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory):
    du.ensure_engine()
    du.ensure_base()
    secrets_dir = tmp_path_factory.mktemp("compose") / "secrets"
    out = subprocess.run(["bash", str(DEPLOY / "make-secrets.sh"), str(secrets_dir)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    ports = {"sandbox": free_port(), "analyzer": free_port()}
    compose = Compose({"BASE_IMAGE": du.BASE_IMAGE, "CODEEVAL_SECRETS_DIR": str(secrets_dir),
                       "CODEEVAL_SANDBOX_PUBLISH": str(ports["sandbox"]),
                       "CODEEVAL_ANALYZER_PUBLISH": str(ports["analyzer"])})
    try:
        compose("up", "-d", "--build", "sandbox", "analyzer", timeout=2400)
        yield compose, ports, (secrets_dir / "token").read_text().strip()
    finally:
        logs = compose("logs", "--tail", "40", check=False).stdout
        compose("down", "-v", "--remove-orphans", "--rmi", "local", check=False, timeout=300)
        print(logs[-6000:])


def wait_healthy(compose: Compose, service: str) -> None:
    container = compose("ps", "-q", service).stdout.strip()
    assert container, f"{service} has no container"
    du.wait_docker_healthy(container, timeout=300)


def test_compose_file_is_valid_for_every_service(system):
    compose, _, _ = system
    services = compose("config", "--services").stdout.split()
    assert sorted(services) == ["analyzer", "generator", "sandbox", "trainer"]
    compose("config", "-q")


def test_sandbox_and_analyzer_serve_from_compose(system):
    from codeeval.api.analyzer.v1 import analyzer_pb2, analyzer_pb2_grpc
    from codeeval.api.sandbox.v1 import sandbox_pb2, sandbox_pb2_grpc

    compose, ports, token = system
    for service in ("sandbox", "analyzer"):
        wait_healthy(compose, service)
    sandbox = sandbox_pb2_grpc.SandboxServiceStub(open_channel(f"127.0.0.1:{ports['sandbox']}", token=token))
    program = sandbox_pb2.Program(language=common_pb2.LANGUAGE_PYTHON, source=b"def add(a, b):\n    return a + b\n",
                                  test=b"def check(f):\n    assert f(2, 3) == 5\n", entry_point="add")
    result = sandbox.Execute(sandbox_pb2.ExecuteRequest(id="compose", program=program), timeout=120).result
    assert result.outcome == sandbox_pb2.OUTCOME_PASSED and result.backend == "unshare", result
    analyzer = analyzer_pb2_grpc.AnalyzerServiceStub(open_channel(f"127.0.0.1:{ports['analyzer']}", token=token))
    source = b'"""Module."""\n\n\ndef scale(value):\n    """Twice."""\n    factor = 3\n    return value * 2\n'
    reply = analyzer.Analyze(analyzer_pb2.AnalyzeRequest(files=[analyzer_pb2.AnalyzedFile(
        file=common_pb2.SourceFile(path="scale.py", content=source, language=common_pb2.LANGUAGE_PYTHON))]),
        timeout=120)
    assert [(f.tool, f.rule) for f in reply.files[0].findings] == [("pylint", "W0612")], reply
    anonymous = sandbox_pb2_grpc.SandboxServiceStub(open_channel(f"127.0.0.1:{ports['sandbox']}", token=""))
    with pytest.raises(grpc.RpcError) as err:
        anonymous.GetCapabilities(sandbox_pb2.GetCapabilitiesRequest(), timeout=30)
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_compose_secrets_are_readable_by_the_services_only(system):
    """The containers (uid 10001) read the token through group 10001; nobody else can."""
    compose, _, _ = system
    token = Path(compose.env["CODEEVAL_SECRETS_DIR"]) / "token"
    assert token.stat().st_mode & 0o777 == 0o640 and token.stat().st_gid == 10001
