"""``codeeval exec``: problem formats as published, samples, summary; end to end with a local service."""

from __future__ import annotations

import json
from pathlib import Path

import humaneval_data
import pytest
from conftest import FIXTURES, HUMANEVAL, bwrap_usable

from codeeval.cli.main import main
from codeeval.cli.sandbox import detect_format, load_problems, summarize
from codeeval.data import DataError
from codeeval.pipeline.stages import read_samples

HE = {"task_id": "HumanEval/0", "prompt": "def f(x):\n", "canonical_solution": "    return x\n",
      "test": "def check(c):\n    assert c(1) == 1\n", "entry_point": "f"}


def _write(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_humaneval_and_humaneval_x_python_records(tmp_path: Path):
    assert detect_format(HE) == ("humaneval", "python")
    x = {**HE, "task_id": "Python/0", "test": HE["test"] + "\ncheck(f)\n", "declaration": ""}
    assert detect_format(x) == ("humaneval_x", "python")
    ti = load_problems(_write(tmp_path / "he.jsonl", [HE]))
    item = ti.items[0]
    assert (ti.task.language, item.entry_point, item.reference) == ("python", "f", "def f(x):\n    return x\n")
    assert load_problems(_write(tmp_path / "x.jsonl", [x])).items[0].entry_point == ""  # HumanEval-X calls check


def test_humaneval_x_java_and_mbpp_records():
    ti = load_problems(FIXTURES / "humaneval_x_java.jsonl")
    assert len(ti.items) == 6 and ti.task.language == "java"
    assert ti.item("Java/0").reference.startswith("import java.util.*;")
    mbpp = {"task_id": 11, "text": "t", "code": "def g():\n    return 2\n", "test_list": ["assert g() == 2"],
            "test_setup_code": "", "challenge_test_list": []}
    assert detect_format(mbpp) == ("mbpp", "python")
    with pytest.raises(DataError, match="not a HumanEval"):
        detect_format({"task_id": "x", "question": "?"})


def test_samples_completion_or_solution(tmp_path: Path):
    ti = load_problems(_write(tmp_path / "he.jsonl", [HE]))
    path = _write(tmp_path / "s.jsonl", [{"task_id": "HumanEval/0", "completion": "    return 2\n"},
                                         {"task_id": "HumanEval/0", "solution": "def f(x):\n    return x\n"}])
    a, b = read_samples(path, [ti])
    assert (a.sample, a.form, a.text) == (0, "completion", "    return 2\n")
    assert (b.sample, b.form, b.text) == (1, "solution", "def f(x):\n    return x\n")
    _write(path, [{"task_id": "nope", "completion": ""}])
    with pytest.raises(DataError, match="record 1: task_id 'nope' is not an item"):
        read_samples(path, [ti])
    _write(path, [{"task_id": "HumanEval/0", "answer": ""}])
    with pytest.raises(DataError, match="needs 'completion' or 'solution'"):
        read_samples(path, [ti])


def test_summary_never_scores_infrastructure_errors():
    results = [{"task_id": "a", "status": "PASSED"}, {"task_id": "a", "status": "SANDBOX_ERROR"},
               {"task_id": "b", "status": "FAILED"}, {"task_id": "b", "status": "PASSED"},
               {"task_id": "c", "status": "NOT_RUN"}]
    s = summarize(results, [1, 2], resamples=100, seed=0)
    assert s["infra_errors"] == 2 and s["tasks"] == 3 and s["tasks_scored"] == 2
    assert s["pass_at_k"]["pass@1"]["value"] == pytest.approx((1.0 + 0.5) / 2)
    assert s["omitted_k"] == [2]  # task a has only one scored sample
    assert s["status_counts"] == {"PASSED": 2, "SANDBOX_ERROR": 1, "FAILED": 1, "NOT_RUN": 1}


@pytest.mark.integration
@pytest.mark.skipif(not bwrap_usable(), reason="bubblewrap not installed")
def test_exec_end_to_end_humaneval_and_java(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("CODEEVAL_SANDBOX_ADDR", raising=False)
    problems = humaneval_data.load(HUMANEVAL)[:3]
    he = tmp_path / "he.jsonl"
    he.write_text("".join(json.dumps(p) + "\n" for p in problems))
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps({"task_id": p["task_id"], "completion": c}) + "\n"
                               for p in problems for c in (p["canonical_solution"], "    return None\n")))
    assert main(["exec", "--problems", str(he), "--samples", str(samples), "--out", str(tmp_path / "a"),
                 "--k", "1,2,5"]) == 0
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["pass_at_k"]["pass@1"]["value"] == pytest.approx(0.5)
    assert summary["pass_at_k"]["pass@2"]["value"] == pytest.approx(1.0)
    assert summary["omitted_k"] == [5] and summary["backend"] == "bubblewrap"
    assert "python3" in summary["toolchains"]["LANGUAGE_PYTHON"]
    lines = [json.loads(x) for x in (tmp_path / "a" / "results.jsonl").read_text().splitlines()]
    assert [r["passed"] for r in lines] == [True, False] * 3

    java = FIXTURES / "humaneval_x_java.jsonl"
    assert main(["exec", "--problems", str(java), "--canonical", "--out", str(tmp_path / "b")]) == 0
    assert json.loads((tmp_path / "b" / "summary.json").read_text())["status_counts"] == {"PASSED": 6}
    assert main(["exec", "--problems", str(java), "--samples", str(FIXTURES / "humaneval_x_java_broken.jsonl"),
                 "--out", str(tmp_path / "c")]) == 0
    assert json.loads((tmp_path / "c" / "summary.json").read_text())["pass_at_k"]["pass@1"]["value"] == 0.0
