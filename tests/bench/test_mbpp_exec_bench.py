"""MBPP in both published shapes (original: text/code/test_list/test_setup_code; sanitized:
prompt/code/test_imports/test_list; fixtures of the data layer, with tests that need ``import math``)
runs with every reference passing in the real sandbox, through ``codeeval exec`` and through
``codeeval bench --samples``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from codeeval.cli.main import main
from codeeval.data import Source, read_items

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "fixtures"
SHAPES = {"original": FIXTURES / "mbpp.jsonl", "sanitized": FIXTURES / "sanitized-mbpp.json"}
pytestmark = [pytest.mark.slow, pytest.mark.integration,
              pytest.mark.skipif(shutil.which("bwrap") is None, reason="the real sandbox needs bubblewrap")]


@pytest.fixture(autouse=True)
def _local_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    for svc in ("sandbox", "analyzer"):
        monkeypatch.delenv(f"CODEEVAL_{svc.upper()}_ADDR", raising=False)
    monkeypatch.setenv("CODEEVAL_GENERATOR_ADDR", "127.0.0.1:1")  # never contacted


def _references(path: Path) -> list[dict]:
    return [{"task_id": it.id, "solution": it.reference} for it in read_items(Source("mbpp", path))]


def test_fixtures_have_both_shapes_and_math_tests():
    original = [json.loads(x) for x in SHAPES["original"].read_text().splitlines() if x.strip()]
    sanitized = json.loads(SHAPES["sanitized"].read_text())
    assert all("text" in r and "test_setup_code" in r for r in original)
    assert all("prompt" in r and "test_imports" in r and "text" not in r for r in sanitized)
    assert any("import math" in r["test_setup_code"] for r in original)
    assert any("import math" in r["test_imports"] for r in sanitized)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_exec_passes_every_mbpp_reference(shape: str, tmp_path: Path):
    problems = SHAPES[shape]
    assert main(["exec", "--problems", str(problems), "--canonical", "--out", str(tmp_path / "c")]) == 0
    summary = json.loads((tmp_path / "c/summary.json").read_text())
    n = len(_references(problems))
    assert summary["status_counts"] == {"PASSED": n} and summary["pass_at_k"]["pass@1"]["value"] == 1.0
    samples = tmp_path / "s.jsonl"
    samples.write_text("".join(json.dumps(r) + "\n" for r in _references(problems)))
    assert main(["exec", "--problems", str(problems), "--samples", str(samples), "--out", str(tmp_path / "s")]) == 0
    assert json.loads((tmp_path / "s/summary.json").read_text())["status_counts"] == {"PASSED": n}


def test_bench_samples_passes_every_mbpp_reference(tmp_path: Path):
    suite = {"name": "mbpp-shapes", "version": "1", "tasks": [
        {"name": f"mbpp-{shape}", "kind": "codegen", "language": "python", "reader": "mbpp", "path": str(path),
         "task_prompt": "nl2code-python", "metrics": ["pass@1"]} for shape, path in sorted(SHAPES.items())]}
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite))
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps({"task": f"mbpp-{shape}", **r}) + "\n"
                               for shape, path in sorted(SHAPES.items()) for r in _references(path)))
    out = tmp_path / "out"
    assert main(["bench", "--suite", str(tmp_path / "suite.yaml"), "--samples", str(samples), "--out", str(out)]) == 0
    tasks = json.loads((out / "base/results.json").read_text())["tasks"]
    for shape, path in SHAPES.items():
        t = tasks[f"mbpp-{shape}"]
        assert t["outcomes"] == {"PASSED": len(_references(path))}, (shape, t["outcomes"])
        assert t["pass_at_k"]["1"]["mean"] == 1.0


