"""``codeeval exec``: problem formats as published, samples, summary; end to end with a local service."""

from __future__ import annotations

import json
from pathlib import Path

import humaneval_data
import pytest
from conftest import FIXTURES, HUMANEVAL, bwrap_usable

from codeeval.cli.main import main
from codeeval.cli.sandbox import JAVA, PYTHON, load_problems, load_samples, parse_problem, summarize

HE = {"task_id": "HumanEval/0", "prompt": "def f(x):\n", "canonical_solution": "    return x\n",
      "test": "def check(c):\n    assert c(1) == 1\n", "entry_point": "f"}


def test_humaneval_and_humaneval_x_python_records():
    p = parse_problem(HE)
    assert (p.language, p.entry_point, p.reference) == (PYTHON, "f", "def f(x):\n    return x\n")
    x = parse_problem({**HE, "task_id": "Python/0", "test": HE["test"] + "\ncheck(f)\n", "declaration": ""})
    assert x.entry_point == ""  # HumanEval-X calls check itself


def test_humaneval_x_java_and_mbpp_records():
    problems = load_problems(FIXTURES / "humaneval_x_java.jsonl")
    assert len(problems) == 6 and all(p.language == JAVA for p in problems.values())
    assert problems["Java/0"].reference.startswith("import java.util.*;")
    mbpp = parse_problem({"task_id": 11, "text": "t", "code": "def g():\n    return 2\n",
                          "test_list": ["assert g() == 2"], "test_setup_code": "", "challenge_test_list": []})
    assert (mbpp.task_id, mbpp.language, mbpp.test.strip(), mbpp.entry_point) == ("11", PYTHON, "assert g() == 2", "")
    with pytest.raises(ValueError, match="not a HumanEval"):
        parse_problem({"task_id": "x", "question": "?"})


def test_samples_completion_or_solution(tmp_path: Path):
    problems = {"HumanEval/0": parse_problem(HE)}
    path = tmp_path / "s.jsonl"
    path.write_text(json.dumps({"task_id": "HumanEval/0", "completion": "    return 2\n"}) + "\n"
                    + json.dumps({"task_id": "HumanEval/0", "solution": "def f(x):\n    return x\n"}) + "\n")
    a, b = load_samples(path, problems)
    assert (a.index, a.program) == (0, "def f(x):\n    return 2\n")
    assert (b.index, b.program) == (1, "def f(x):\n    return x\n")
    path.write_text(json.dumps({"task_id": "nope", "completion": ""}) + "\n")
    with pytest.raises(ValueError, match="not in the problems file"):
        load_samples(path, problems)


def test_summary_never_scores_sandbox_errors():
    results = [{"task_id": "a", "status": "PASSED"}, {"task_id": "a", "status": "SANDBOX_ERROR"},
               {"task_id": "b", "status": "FAILED"}, {"task_id": "b", "status": "PASSED"}]
    s = summarize(results, [1, 2], resamples=100, seed=0)
    assert s["infra_errors"] == 1
    assert s["pass_at_k"]["pass@1"]["value"] == pytest.approx((1.0 + 0.5) / 2)
    assert s["omitted_k"] == [2]  # task a has only one scored sample


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
