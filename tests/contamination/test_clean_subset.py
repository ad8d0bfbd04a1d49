"""Clean-subset numbers (issue 19): every metric of a task recomputed on the items a contamination
check left clean, hand-checked, and the comparison tests restricted to those items."""

from __future__ import annotations

from typing import Any

import pytest

from codeeval.contamination.subset import subset_metrics
from codeeval.pipeline.comparison import compare_results
from codeeval.stats.compare import bootstrap_ci

# five items, two samples each; i0 and i3 are the contaminated ones
INSTANCES: dict[str, dict[str, Any]] = {
    "i0": {"n": 2, "c": 2, "passed": [True, True], "compiled": [True, True], "metrics": {"bleu": 0.9}},
    "i1": {"n": 2, "c": 1, "passed": [True, False], "compiled": [True, True], "metrics": {"bleu": 0.2}},
    "i2": {"n": 2, "c": 0, "passed": [False, False], "compiled": [False, True], "metrics": {"bleu": 0.4}},
    "i3": {"n": 2, "c": 2, "passed": [True, True], "compiled": [True, True], "infra_errors": 1,
           "metrics": {"bleu": 0.8}},
    "i4": {"n": 2, "c": 1, "passed": [False, True], "compiled": [True, True], "metrics": {"bleu": 0.6}},
}
TASK: dict[str, Any] = {"pass_at_k": {"1": {}, "2": {}}, "compile": {}, "metrics": {"bleu": {}},
                        "instances": INSTANCES}
CLEAN = ["i1", "i2", "i4"]


def test_every_metric_on_the_clean_items_by_hand() -> None:
    m = subset_metrics(TASK, CLEAN)
    assert m["items"] == 3
    # pass@1: mean of c/n = (1/2 + 0 + 1/2) / 3; pass@2 with n=2: 1 when c >= 1 -> (1 + 0 + 1) / 3
    assert m["pass_at_k"]["1"]["mean"] == pytest.approx(1 / 3)
    assert m["pass_at_k"]["2"]["mean"] == pytest.approx(2 / 3)
    assert m["pass_at_k"]["1"]["n"] == 3 and m["infra_errors"] == 0
    assert m["compile"] == {"checked": 6, "compiled": 5, "rate": pytest.approx(5 / 6)}
    bleu = m["metrics"]["bleu"]
    assert bleu["mean"] == pytest.approx(0.4) and bleu["n"] == 3
    assert bleu["ci"] == list(bootstrap_ci([0.2, 0.4, 0.6], seed=0))


def test_the_full_set_keeps_infrastructure_errors_out_of_n() -> None:
    m = subset_metrics(TASK)
    assert m["items"] == 5 and m["infra_errors"] == 1
    # every item has two scored samples: pass@1 = (1 + .5 + 0 + 1 + .5) / 5
    assert m["pass_at_k"]["1"]["mean"] == pytest.approx(0.6) and m["pass_at_k"]["1"]["n"] == 5
    assert m["metrics"]["bleu"]["mean"] == pytest.approx(0.58)


def test_a_subset_without_scored_items_has_no_numbers() -> None:
    m = subset_metrics(TASK, [])
    assert m["items"] == 0 and m["pass_at_k"] == {} and m["compile"]["rate"] is None
    assert m["metrics"]["bleu"] == {"mean": None, "ci": [None, None], "n": 0}


def _run(passed: list[bool]) -> dict[str, Any]:
    return {"tasks": {"gen": {"pass_at_k": {"1": {}}, "instances": {
        f"i{j}": {"n": 1, "c": int(p), "passed": [p]} for j, p in enumerate(passed)}}}}


def test_compare_results_restricted_to_item_ids() -> None:
    base = _run([False] * 10)
    tuned = _run([True] * 6 + [False] * 4)  # the gain is on i0..i5 only
    full = compare_results(base, tuned)
    assert [(t["metric"], t["n"], t["diff"]) for t in full["tests"]] == [("pass@1", 10, pytest.approx(0.6))]
    assert full["tests"][0]["p_value"] == pytest.approx(2 * 0.5 ** 6)  # exact McNemar, 6 discordant pairs
    clean = compare_results(base, tuned, items={"gen": ["i6", "i7", "i8", "i9", "not-an-item"]})
    (test,) = clean["tests"]
    assert (test["n"], test["diff"], test["p_value"], test["significant"]) == (4, 0.0, 1.0, False)
    assert compare_results(base, tuned, items={})["tests"] == []  # a task not named is not compared


def test_the_gate_never_sees_the_contamination_records() -> None:
    """Clean-subset tests are reported, not gated: the gate's verdict and its family of tests are the
    same with and without an adapter's contamination record (which names a clean subset)."""
    from codeeval.pipeline.comparison import gate_results

    def run(shift: float) -> dict[str, Any]:
        return {"tasks": {"summ": {"metrics": {"chrf": {}}, "instances": {
            f"i{j}": {"n": None, "metrics": {"chrf": 0.5 + 0.01 * (j % 3) + shift}} for j in range(40)}}}}

    base, tuned = run(0.0), run(0.001)
    marked = {**tuned, "contamination": {"status": "contaminated", "tasks": {"summ": {
        "clean_ids": [f"i{j}" for j in range(30, 40)], "contaminated_any": [f"i{j}" for j in range(30)]}}}}
    plain = gate_results(base, tuned, margins={})
    assert [r["metric"] for r in plain["results"]] == ["chrf"] and plain["results"][0]["n"] == 40
    assert gate_results(base, marked, margins={}) == plain
