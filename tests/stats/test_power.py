"""Detectable drops of the gate against brute-force simulations of the gate itself (fixed seeds)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from codeeval.stats.gate import MIN_BOOTSTRAP_ITEMS, gate_continuous, paired_proportion_bounds
from codeeval.stats.power import (
    MetricSpec,
    Spread,
    can_fire_binary,
    detectable_drop_binary,
    detectable_drop_continuous,
    never_fire,
    paired_values,
    plan,
    power_binary,
    spreads_from_results,
)


@pytest.mark.parametrize(("n", "discordance", "alpha"), [(60, 0.3, 0.05), (164, 0.5, 0.01), (164, 0.1, 0.05)])
def test_binary_detectable_drop_has_80_percent_power_by_simulation(n, discordance, alpha):
    drop = detectable_drop_binary(n, margin=0.02, alpha=alpha, discordance=discordance)
    assert 0.02 < drop < 1
    p_lost = max((discordance + drop) / 2, drop)
    rng = np.random.default_rng(17)
    draws = rng.multinomial(n, [p_lost, p_lost - drop, 1 - 2 * p_lost + drop], size=6000)
    _, high = paired_proportion_bounds(draws[:, 0], draws[:, 1], n, alpha)
    assert (high < -0.02).mean() == pytest.approx(0.80, abs=0.03)
    # and a smaller drop is caught less often
    assert power_binary(n, drop * 0.7, discordance=discordance, margin=0.02, alpha=alpha) < 0.75


def test_continuous_detectable_drop_has_80_percent_power_by_simulation():
    n, sd = 60, 0.2
    drop = detectable_drop_continuous(n, margin=0.02, alpha=0.05, sd=sd)
    rng = np.random.default_rng(23)
    fired = [gate_continuous("t", "m", np.zeros(n), rng.normal(-drop, sd, size=n), resamples=999,
                             seed=s).high < -0.02 for s in range(300)]
    assert np.mean(fired) == pytest.approx(0.80, abs=0.08)


def test_more_items_and_less_discordance_detect_smaller_drops():
    worst = detectable_drop_binary(164, margin=0.02, alpha=0.05)
    assert detectable_drop_binary(500, margin=0.02, alpha=0.05) < worst
    assert detectable_drop_binary(164, margin=0.02, alpha=0.05, discordance=0.1) < worst
    assert detectable_drop_binary(164, margin=0.02, alpha=0.005) > worst


def test_a_small_task_can_never_fire_under_many_gated_metrics():
    # the default suite's 8-item task under about 20 gated metrics: losing all 8 items is not enough
    assert not can_fire_binary(8, margin=0.02, alpha=0.05 / 20)
    assert detectable_drop_binary(4, margin=0.02, alpha=0.05 / 10) == math.inf
    assert can_fire_binary(8, margin=0.02, alpha=0.05)
    assert detectable_drop_continuous(MIN_BOOTSTRAP_ITEMS - 1, margin=0.02, alpha=0.05) == math.inf


def test_plan_marks_gating_and_counts_only_gating_metrics_in_bonferroni():
    specs = [MetricSpec("big", "pass@1", "binary", 800, 0.02), MetricSpec("big2", "pass@1", "binary", 800, 0.02),
             MetricSpec("tiny", "pass@1", "binary", 4, 0.02), MetricSpec("mid", "codebleu", "continuous", 40, 0.02)]
    rows = {r.task: r for r in plan(specs, alpha=0.05, target=0.10)}
    assert rows["big"].gating and rows["big2"].gating and not rows["tiny"].gating and not rows["mid"].gating
    # two metrics gate: each at 0.05 / 2; the others cannot gate even unadjusted and take no share of alpha
    assert rows["big"].confidence == pytest.approx(0.975) and rows["tiny"].confidence == pytest.approx(0.95)
    assert rows["big"].detectable_drop == pytest.approx(detectable_drop_binary(800, margin=0.02, alpha=0.025))
    # a baseline with little spread makes the mid-size task gate, and the adjustment counts it
    spreads = {("mid", "codebleu"): Spread(sd=0.05, mean=0.5, source="measured")}
    with_mid = {r.task: r for r in plan(specs, spreads)}
    assert with_mid["mid"].gating and with_mid["big"].confidence == pytest.approx(1 - 0.05 / 3)


def test_never_fire_warns_for_metrics_no_outcome_can_fail():
    rows = plan([MetricSpec("few", "codebleu", "continuous", MIN_BOOTSTRAP_ITEMS - 1, 0.02),
                 MetricSpec("one", "pass@1", "binary", 1, 0.02), MetricSpec("ok", "pass@1", "binary", 50, 0.02)])
    warnings = never_fire(rows)
    assert len(warnings) == 2 and all("can never fire" in w for w in warnings)
    assert "few codebleu" in warnings[0] and "one pass@1" in warnings[1]


def _results(task: str, passed: list[bool], bleu: list[float]) -> dict:
    return {"tasks": {task: {"instances": {f"i{k}": {"n": 1, "c": int(p), "passed": [p], "compiled": [True],
                                                    "metrics": {"bleu": b}}
                                           for k, (p, b) in enumerate(zip(passed, bleu, strict=True))}}}}


def test_spreads_from_one_baseline_and_from_two_variants():
    a = _results("t", [True] * 3 + [False] * 7, [0.1 * k for k in range(10)])
    one = spreads_from_results([a])
    assert one[("t", "pass@1")].discordance == pytest.approx(2 * 0.3 * 0.7)
    assert one[("t", "pass@1")].mean == pytest.approx(0.3)
    assert one[("t", "bleu")].sd == pytest.approx(np.std([0.1 * k for k in range(10)], ddof=1) * math.sqrt(2))
    b = _results("t", [True] * 2 + [False] * 7 + [True], [0.1 * k + 0.05 for k in range(10)])
    two = spreads_from_results([a, b])
    assert two[("t", "pass@1")].discordance == pytest.approx(0.2)
    assert two[("t", "bleu")].sd == pytest.approx(0.0, abs=1e-12)
    assert "measured" in two[("t", "pass@1")].source


def test_exact_power_equals_a_brute_force_enumeration_of_every_table():
    n, alpha, margin, drop, psi = 30, 0.05, 0.02, 0.2, 0.3
    p_lost = max((psi + drop) / 2, drop)
    p = [p_lost, p_lost - drop, 1 - 2 * p_lost + drop]
    lost, gained = (g.ravel() for g in np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij"))
    ok = lost + gained <= n
    lost, gained = lost[ok], gained[ok]
    fires = paired_proportion_bounds(lost, gained, n, alpha)[1] < -margin
    counts = np.stack([lost, gained, n - lost - gained], axis=1)[fires]
    total = float(np.exp(stats.multinomial.logpmf(counts, n, p)).sum())
    assert power_binary(n, drop, discordance=psi, margin=margin, alpha=alpha) == pytest.approx(total, rel=1e-9)


def test_paired_values_feed_the_gate_from_two_results_files():
    from codeeval.stats.gate import GateInput, Verdict, overall, run_gate

    base = _results("t", [True] * 40 + [False] * 20, [0.5] * 60)
    cand = _results("t", [False] * 20 + [True] * 20 + [False] * 20, [0.5] * 60)
    del cand["tasks"]["t"]["instances"]["i59"]  # only the items both runs have are paired
    pairs = paired_values(base, cand)
    a, b = pairs[("t", "pass@1")]
    assert len(a) == len(b) == 59 and sum(a) == 40 and sum(b) == 20
    results = run_gate([GateInput("t", "pass@1", "binary", 0.02, a, b),
                        GateInput("t", "bleu", "continuous", 0.02, *pairs[("t", "bleu")])])
    assert results[0].verdict is Verdict.REGRESSION and results[0].confidence == pytest.approx(0.975)
    assert results[1].verdict is Verdict.NO_REGRESSION  # identical scores on 59 items
    assert overall(results) is Verdict.REGRESSION
    with pytest.raises(ValueError, match="kind must be"):
        run_gate([GateInput("t", "m", "ordinal", 0.02, [1.0], [1.0])])


def _two_tasks(big: list[bool], small: list[bool]) -> dict:
    doc = _results("big", big, [0.5] * len(big))
    doc["tasks"].update(_results("small", small, [0.5] * len(small))["tasks"])
    return doc


def test_evaluate_plans_on_the_baseline_history_and_decides_on_gating_metrics_only():
    from codeeval.stats.gate import Verdict
    from codeeval.stats.power import evaluate

    base = [k % 10 < 4 for k in range(300)]  # pass rate 0.4
    history = [_two_tasks(base, [True, False, True, False]),
               _two_tasks([(not p) if k < 9 else p for k, p in enumerate(base)], [True] * 4)]  # 3% of items change
    margins = {"pass@1": 0.02}
    dropped = [p and k % 3 != 0 for k, p in enumerate(base)]  # a third of the passing items lost: -0.13
    report = evaluate(history[0], _two_tasks(dropped, [False] * 4), margins=margins, history=history)
    rows = {r.task: r for r in report.rows}
    assert rows["big"].gating and not rows["small"].gating  # 4 items: reported, never gating
    assert [(r.task, r.metric) for r in report.results] == [("big", "pass@1")]
    assert report.verdict is Verdict.REGRESSION and report.results[0].confidence == pytest.approx(0.95)
    same = evaluate(history[0], history[0], margins=margins, history=history)
    assert same.verdict is Verdict.NO_REGRESSION
    better = [p or k % 10 == 5 for k, p in enumerate(base)]  # +0.1
    assert evaluate(history[0], _two_tasks(better, [True] * 4), margins=margins, history=history).verdict \
        is Verdict.IMPROVED
    # without history the worst case rules: 300 items cannot show 10 points, and the gate says it cannot tell
    blind = evaluate(history[0], _two_tasks(dropped, [False] * 4), margins=margins)
    assert blind.verdict is Verdict.INCONCLUSIVE and not blind.results
    assert any("cannot tell" in w for w in blind.warnings)
