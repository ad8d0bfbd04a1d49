"""The report's headline words on results.json dicts built here (the shape test_gate_cli.py uses): every
verdict of the gate maps to its headline, with the deciding metric's reason and n; the template
override note names the served and the trained templates; flipped items of runs without stage files.
The same on a bench run: test_report_views.py."""

from __future__ import annotations

from typing import Any

import pytest

from codeeval.pipeline.comparison import gate_results
from codeeval.pipeline.report_flips import TOP, StageFiles, flips
from codeeval.pipeline.report_gate import overall_reason, override_notes, task_headlines
from codeeval.pipeline.report_html import flips_section

SCHEMA = "codeeval.pipeline.results/v1"


def _results(tasks: dict[str, list[float]]) -> dict[str, Any]:
    """Per task, items with a codebleu score each."""
    return {"schema": SCHEMA, "suite": {"name": "t", "version": "1", "sha256": "0" * 64}, "tasks": {
        task: {"instances": {f"i{k}": {"metrics": {"codebleu": v}} for k, v in enumerate(values)}}
        for task, values in tasks.items()}}


def _steady(n: int, shift: float = 0.0) -> list[float]:
    return [0.6 + 0.01 * (k % 5) + shift for k in range(n)]


@pytest.mark.parametrize(("shift", "verdict", "label", "reason"), [
    (-0.3, "regression", "regressed", "upper bound"),
    (0.2, "improved", "improved", "lower bound"),
    (0.0, "no regression", "no change", "lower bound"),
])
def test_each_verdict_gives_its_headline_with_the_reason_and_n(shift, verdict, label, reason):
    base = _results({"big": _steady(60), "small": _steady(4)})
    cand = _results({"big": _steady(60, shift), "small": _steady(4, shift)})
    gate = gate_results(base, cand, margins={"codebleu": 0.02})
    assert gate["verdict"] == verdict
    big, small = task_headlines(gate, ["big", "small"])
    assert (big.label, big.n) == (label, 60) and big.reason.startswith(f"codebleu {reason}")
    assert big.reason.endswith("(n 60)")
    # 4 items: a bootstrap interval needs 10, so the task is inconclusive, and says why
    assert (small.label, small.n) == ("inconclusive", 0)
    assert small.reason == ("not gating (a gating metric must detect a 0.1 drop): codebleu can never fire "
                            "with 4 items")
    assert overall_reason(gate, [big, small]) == f"decided by big (1 {label}, 1 inconclusive of 2 tasks)"


def test_a_task_without_a_gated_metric_says_so():
    gate = gate_results(_results({"t": _steady(30)}), _results({"t": _steady(30)}), margins={"pass@1": 0.02})
    (head,) = task_headlines(gate, ["t"])
    assert head.label == "inconclusive" and head.reason == "not gated: none of its metrics has a margin (gated: pass@1)"
    assert overall_reason(gate, [head]).startswith("no gated metric can detect")


def test_template_override_note_names_served_and_trained_templates():
    res = _results({"t": _steady(3)})
    res["tasks"]["t"].update(samples=3, generation={"template_override": {"samples": 2, "templates": ["chatml abc"]}})
    res["template_override"] = {"t": 2}
    res["receipt"] = {"adapter": {"template": "smollm2", "template_sha256": "f" * 64}}
    assert override_notes({"base": _results({"t": _steady(3)}), "tuned": res}) == [
        "tuned: TEMPLATE OVERRIDE: 2 samples were served with another chat template (chatml abc) than the adapter "
        f"was trained with (smollm2 {'f' * 12}); its scores do not measure the adapter as trained (t 2/3)"]


def test_flips_without_stage_files_list_the_drops_and_say_once_that_there_is_no_code():
    a, b = _results({"t": _steady(30)}), _results({"t": _steady(30, -0.1)})
    b["tasks"]["t"]["instances"]["i0"]["metrics"]["codebleu"] = 0.9  # one item better: not a drop
    empty = StageFiles({}, {}, {})
    (found,) = flips(a, b, empty, empty)
    assert (found.kind, found.total, len(found.shown)) == ("codebleu", 29, TOP)
    assert [f.item for f in found.shown[:3]] == ["i1", "i2", "i3"] and found.shown[0].change == "codebleu -0.100"
    md, html = flips_section([("baseline", "candidate", [found])])
    assert md.count("No code or stderr to show") == 1 and "```" not in md
    assert "t: 29 items with a lower codebleu (the first 20 shown)" in md and "click an item" in html


def test_compile_flips_of_a_compile_only_task_pick_the_samples_that_changed():
    def run(compiled: list[bool]) -> dict[str, Any]:
        inst = {f"i{k}": {"n": None, "compiled": [c, True], "outcomes": [[0, "PASSED" if c else "COMPILE_ERROR"],
                                                                          [1, "PASSED"]]}
                for k, c in enumerate(compiled)}
        return {"tasks": {"t": {"compile": {}, "instances": inst}}}

    empty = StageFiles({}, {}, {})
    (found,) = flips(run([True, True, False]), run([False, True, True]), empty, empty)
    assert found.kind == "compile" and [(f.item, f.change) for f in found.shown] == [
        ("i0", "compiles->fails"), ("i2", "fails->compiles")]
    drop = found.shown[0]
    assert (drop.a.value, drop.a.outcome, drop.b.value, drop.b.outcome) == (
        "compiles 2/2", "PASSED", "compiles 1/2", "COMPILE_ERROR")
