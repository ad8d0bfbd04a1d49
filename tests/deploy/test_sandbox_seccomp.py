"""The sandbox pod's per-run isolation really works under the pod's seccomp profile.

Real Docker, the real profile from deploy/seccomp/, the real toolchain image (the "toolchains"
stage of deploy/sandbox/Dockerfile, built on the registry-free base), run with the flags of the
rendered dev sandbox pod (tests/deploy/sandbox_pods.py: uid 10001, no capabilities, read-only root,
no-new-privileges, the shipped profile, unmasked /proc, its tmpfs, limits and env) and no network:
bubblewrap builds its sandbox; javac, java and python run inside it without network. The named
control cases of sandbox_pods.py show what each setting does: the runtime's default profile (what
RuntimeDefault gives) blocks bubblewrap, so does a masked /proc, and the shipped profile still
blocks the other privileged syscalls that no filter at all lets through.
"""

from __future__ import annotations

import errno
import json

import pytest

from deploy import dockerutil as du
from deploy.conftest import DEPLOY, ROOT, render
from deploy.deviations import MASKED_PROC, RUNTIME_DEFAULT_SECCOMP, UNCONFINED_SECCOMP
from deploy.podspec import Deviation
from deploy.sandbox_pods import BWRAP_OVERLAY, bwrap_probe_flags

pytestmark = pytest.mark.docker
FIXTURES = ROOT / "tests" / "deploy" / "fixtures"


@pytest.fixture(scope="module")
def toolchains() -> str:
    du.ensure_engine()
    du.ensure_base()
    return du.build(DEPLOY / "sandbox" / "Dockerfile", "codeeval/sandbox-toolchains:test", target="toolchains")


def run_probe(image: str, *controls: Deviation, script: str = "bwrap-probe.sh"):
    interpreter = "python3" if script.endswith(".py") else "sh"
    return du.docker("run", "--rm", *bwrap_probe_flags(render(BWRAP_OVERLAY), *controls),
                     "-v", f"{FIXTURES / script}:/probe:ro", image, interpreter, "/probe", timeout=180, check=False)


def test_bwrap_runs_java_and_python_under_the_shipped_profile(toolchains):
    out = run_probe(toolchains)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "java says 42" in lines
    assert any(line.startswith("python uid 10001 pid ") and line.endswith(" host sandbox") for line in lines), lines
    assert any(line.startswith("network blocked") for line in lines), lines


def test_runtime_default_profile_blocks_bwrap(toolchains):
    out = run_probe(toolchains, RUNTIME_DEFAULT_SECCOMP)
    assert out.returncode != 0
    assert "No permissions to create new namespace" in out.stderr


def test_masked_proc_blocks_bwraps_fresh_proc(toolchains):
    """Why the pod sets procMount: Unmasked (with hostUsers: false)."""
    out = run_probe(toolchains, MASKED_PROC)
    assert out.returncode != 0
    assert "Can't mount proc" in out.stderr


def test_shipped_profile_still_blocks_other_privileged_syscalls(toolchains):
    out = run_probe(toolchains, script="syscall-probe.py")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["setns"] == errno.EPERM
    assert result["open_tree"] == errno.EPERM
    assert result["clone3"] == errno.ENOSYS
    assert result["unshare_user"] == 0
    unconfined = json.loads(run_probe(toolchains, UNCONFINED_SECCOMP, script="syscall-probe.py").stdout)
    assert unconfined["setns"] == errno.EBADF, "the probe tells a filtered call from an allowed one"
