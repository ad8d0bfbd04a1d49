"""Static checks of the Dockerfiles (the docker-marked tests build and run sandbox and analyzer;
these cover all images in the fast suite): multi-stage, pinned base, non-root, only the service's
own distribution installed, a health check, and every COPY source present in the repository."""

from __future__ import annotations

import re

import pytest

from deploy.conftest import DEPLOY, ROOT

IMAGES = {
    "sandbox/Dockerfile": "sandbox",
    "analyzer/Dockerfile": "analyzer",
    "generator/Dockerfile": "generator",
    "generator/Dockerfile.cpu": "generator",
    "trainer/Dockerfile": "trainer",
    "client/Dockerfile": None,
}


def instructions(path):
    text = re.sub(r"\\\n", " ", (DEPLOY / path).read_text())
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


@pytest.mark.parametrize("path", IMAGES)
def test_dockerfile_shape(path):
    lines = instructions(path)
    service = IMAGES[path]
    args = dict(re.match(r"ARG (\w+)=(\S+)", line).groups() for line in lines if re.match(r"ARG \w+=", line))
    bases = [v for k, v in args.items() if k in ("BASE_IMAGE", "CUDA_IMAGE")]
    assert bases and all(":" in b and not b.endswith((":latest", ":bookworm-slim")) for b in bases), args
    assert sum(line.startswith("FROM ") for line in lines) >= 2, "multi-stage"
    assert next(line for line in reversed(lines) if line.startswith("USER ")) == "USER 10001:10001"
    installs = " ".join(line for line in lines if "pip install" in line)
    installed_services = set(re.findall(r"/src/services/(\w+)", installs))
    assert installed_services == ({service} if service else set()), installs
    for line in lines:
        if line.startswith("COPY ") and "--from=" not in line:
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), f"{path}: COPY {source} does not exist"
    if service:
        assert any(line.startswith("HEALTHCHECK ") for line in lines)
        assert lines[-1].startswith(("ENTRYPOINT", "CMD"))


def test_gpu_images_are_cuda_and_cpu_image_is_vllm_cpu():
    assert "nvidia/cuda:" in (DEPLOY / "generator" / "Dockerfile").read_text()
    assert "nvidia/cuda:" in (DEPLOY / "trainer" / "Dockerfile").read_text()
    gpu = " ".join(instructions("generator/Dockerfile"))
    cpu = " ".join(instructions("generator/Dockerfile.cpu"))
    assert "[vllm]" in gpu and "vllm==" in gpu and "vllm-cpu" not in gpu
    assert "[vllm-cpu]" in cpu and "nvidia" not in cpu


def test_build_context_leaves_out_the_venv_and_git():
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv"} <= set(ignored)
