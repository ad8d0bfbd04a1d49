"""Docker helpers for the image tests: build on the registry-free base, run, wait, always clean up.
How a container runs (its docker flags) comes from the rendered manifests (tests/deploy/podspec.py),
never from here. Every call has a timeout; nothing is left running."""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import pytest

from deploy.conftest import DEPLOY, ROOT

BASE_IMAGE = "codeeval/base:bookworm"


def docker(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and out.returncode != 0:
        raise AssertionError(f"docker {' '.join(args[:3])} ... exited {out.returncode}:\n{out.stdout[-3000:]}"
                             f"\n{out.stderr[-3000:]}")
    return out


def ensure_engine() -> None:
    out = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, f"Docker engine not reachable (bash scripts/start-dockerd.sh): {out.stderr[-500:]}"


def ensure_base() -> str:
    """The debootstrap base image (built once, ~60 s; reused while it exists)."""
    out = subprocess.run(["bash", str(DEPLOY / "base" / "build-base.sh"), "--tag", BASE_IMAGE],
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, f"base image build failed:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}"
    return BASE_IMAGE


def build(dockerfile: Path, tag: str, *, target: str | None = None, timeout: float = 1500) -> str:
    args = ["build", "-q", "-f", str(dockerfile), "--build-arg", f"BASE_IMAGE={BASE_IMAGE}", "-t", tag]
    if target:
        args += ["--target", target]
    docker(*args, str(ROOT), timeout=timeout)
    return tag


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def wait_serving_inside(name: str, port: int, timeout: float = 240) -> str:
    """The image's health check, run inside container ``name``, until it answers SERVING."""
    deadline, last = time.monotonic() + timeout, ""
    while time.monotonic() < deadline:
        out = docker("exec", name, "python", "/usr/local/lib/codeeval-healthcheck.py", f"127.0.0.1:{port}",
                     check=False, timeout=30)
        if out.returncode == 0:
            return out.stdout.strip()
        last = (out.stdout + out.stderr).strip()
        state = docker("inspect", "-f", "{{.State.Status}}", name, check=False).stdout.strip()
        if state != "running":
            break
        time.sleep(3)
    logs = docker("logs", "--tail", "80", name, check=False)
    pytest.fail(f"{name} not SERVING (last: {last}); container logs:\n{logs.stdout[-5000:]}{logs.stderr[-5000:]}")


def wait_docker_healthy(name: str, timeout: float = 120) -> None:
    """The image's own HEALTHCHECK agrees (Docker's health status of container ``name``)."""
    deadline, status = time.monotonic() + timeout, ""
    while time.monotonic() < deadline:
        status = docker("inspect", "-f", "{{.State.Health.Status}}", name).stdout.strip()
        if status == "healthy":
            return
        time.sleep(3)
    pytest.fail(f"{name}: docker health status stayed {status!r}")
