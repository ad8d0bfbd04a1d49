"""``codeeval analyze`` and ``codeeval score``: input handling (fast) and end to end against a real
local analyzer service (slow: the service's start-up probe starts a JVM)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from codeeval.cli.analyzer import collect_files, read_texts
from codeeval.kit.client import LocalService

from .conftest import FIXTURES, PAPER


def test_read_texts_lines_and_jsonl_fields(tmp_path: Path) -> None:
    lines = tmp_path / "hyp.txt"
    lines.write_text("first\nsecond\n")
    assert read_texts(str(lines)) == ["first", "second"]
    data = tmp_path / "set.jsonl"
    data.write_text(json.dumps({"code": "a\nb", "ref": "x"}) + "\n" + json.dumps({"code": "c", "ref": "y"}) + "\n")
    assert read_texts(f"{data}:code") == ["a\nb", "c"]
    with pytest.raises(SystemExit, match="without field 'nope'"):
        read_texts(f"{data}:nope")


def test_collect_files_walks_directories() -> None:
    found = collect_files([FIXTURES / "java", FIXTURES / "csharp" / "broken.cs"])
    assert [p.name for p in found] == ["Broken.java", "Clean.java", "UnusedLocal.java", "method_only.java", "broken.cs"]


@pytest.fixture(scope="module")
def service_env():
    service = LocalService("analyzer")
    address = service.start(timeout=600)
    try:
        yield {**os.environ, "CODEEVAL_ANALYZER_ADDR": address}
    finally:
        service.stop()


def _codeeval(env: dict, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "codeeval.cli", *args], env=env, capture_output=True, text=True,
                          timeout=600)


@pytest.mark.slow
def test_analyze_writes_json_and_prints_the_rate(service_env: dict, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    proc = _codeeval(service_env, "analyze", str(FIXTURES / "java"), str(FIXTURES / "csharp"),
                     "--java-category", "bestpractices", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    java = data["summary_all"]["java"]
    assert (java["files"], java["analyzable_files"], java["issues"]) == (4, 3, 2)
    assert "3 (75%)" in proc.stderr and "unanalysable" in proc.stderr and "Broken.java" in proc.stderr


@pytest.mark.slow
def test_score_reports_the_paper_leakage(service_env: dict, tmp_path: Path) -> None:
    data = PAPER / "cs_codereval_eval_dataset_py_v2.jsonl"
    if not data.is_file():
        pytest.skip(f"{data} absent: the study's paper_replication set is not shipped (CODEEVAL_DATASETS_DIR)")
    out = tmp_path / "scores.json"
    proc = _codeeval(service_env, "score", "--hyp", f"{data}:reference_summary", "--ref", f"{data}:reference_summary",
                     "--source", f"{data}:code", "--language", "text", "--metric", "bleu", "--metric", "exact_match",
                     "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    assert {m["name"]: m["value"] for m in result["corpus"]} == {"bleu": pytest.approx(1.0), "exact_match": 1.0}
    assert 40 <= result["leakage"]["verbatim"] <= 60 and "leakage: reference verbatim in the input" in proc.stderr


@pytest.mark.slow
def test_bad_input_is_reported_not_a_traceback(service_env: dict, tmp_path: Path) -> None:
    bad = tmp_path / "x.py"
    bad.write_bytes(b"\xff\xfe")
    proc = _codeeval(service_env, "analyze", str(bad))
    assert proc.returncode == 1 and "INVALID_ARGUMENT" in proc.stderr and "files[0].content" in proc.stderr
    assert "Traceback" not in proc.stderr
