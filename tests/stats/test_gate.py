"""The gate's verdicts, margins, Bonferroni adjustment and interval coverage on constructed paired data."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from codeeval.stats.gate import (
    MIN_BOOTSTRAP_ITEMS,
    Verdict,
    adjusted_alpha,
    decide,
    gate_binary,
    gate_continuous,
    overall,
    paired_proportion_bounds,
    parse_max_drop,
)


def _pairs(both: int, lost: int, gained: int, neither: int) -> tuple[list[bool], list[bool]]:
    base = [True] * both + [True] * lost + [False] * gained + [False] * neither
    cand = [True] * both + [False] * lost + [True] * gained + [False] * neither
    return base, cand


def test_binary_gate_gives_each_of_the_four_verdicts():
    improved = gate_binary("t", "pass@1", *_pairs(50, 0, 30, 20))
    assert improved.verdict is Verdict.IMPROVED and improved.low > 0
    same = gate_binary("t", "pass@1", *_pairs(80, 0, 0, 120), margin=0.05)
    assert same.verdict is Verdict.NO_REGRESSION and -0.05 < same.low <= 0
    regressed = gate_binary("t", "pass@1", *_pairs(40, 30, 0, 30))
    assert regressed.verdict is Verdict.REGRESSION and regressed.high < -0.02
    assert (regressed.lost, regressed.gained, regressed.n) == (30, 0, 100) and regressed.diff == pytest.approx(-0.3)
    small = gate_binary("t", "pass@1", *_pairs(4, 0, 0, 4))
    assert small.verdict is Verdict.INCONCLUSIVE and small.low < -0.02 < small.high


def test_continuous_gate_gives_each_of_the_four_verdicts():
    rng = np.random.default_rng(5)
    base = rng.uniform(0.2, 0.8, size=60)
    noise = rng.normal(0, 0.01, size=60)
    cases = {Verdict.IMPROVED: base + 0.1 + noise, Verdict.NO_REGRESSION: base + noise,
             Verdict.REGRESSION: base - 0.2 + noise}
    for verdict, cand in cases.items():
        assert gate_continuous("t", "codebleu", base, cand).verdict is verdict
    wide = base + rng.normal(-0.02, 0.3, size=60)
    r = gate_continuous("t", "codebleu", base, wide)
    assert r.verdict is Verdict.INCONCLUSIVE and r.low < -0.02 < r.high
    few = gate_continuous("t", "codebleu", base[:MIN_BOOTSTRAP_ITEMS - 1], base[:MIN_BOOTSTRAP_ITEMS - 1] - 0.5)
    assert few.verdict is Verdict.INCONCLUSIVE and "at least" in few.reason and math.isnan(few.low)


def test_decide_is_the_documented_rule():
    assert decide(0.01, 0.2, 0.02)[0] is Verdict.IMPROVED
    assert decide(-0.019, 0.2, 0.02)[0] is Verdict.NO_REGRESSION
    assert decide(-0.021, 0.2, 0.02)[0] is Verdict.INCONCLUSIVE
    assert decide(-0.3, -0.021, 0.02)[0] is Verdict.REGRESSION
    assert decide(math.nan, math.nan, 0.02)[0] is Verdict.INCONCLUSIVE


def test_the_margin_moves_the_verdict():
    base, cand = _pairs(70, 4, 0, 26)  # 4 of 100 items lost
    assert gate_binary("t", "pass@1", base, cand, margin=0.02).verdict is Verdict.INCONCLUSIVE
    assert gate_binary("t", "pass@1", base, cand, margin=0.15).verdict is Verdict.NO_REGRESSION


def test_bonferroni_widens_every_bound_by_the_number_of_gated_metrics():
    assert adjusted_alpha(0.05, 5) == pytest.approx(0.01)
    base, cand = _pairs(40, 10, 2, 48)
    one, five = gate_binary("t", "m", base, cand), gate_binary("t", "m", base, cand, gated_metrics=5)
    assert five.confidence == pytest.approx(0.99) and one.confidence == pytest.approx(0.95)
    assert five.low < one.low and five.high > one.high
    # the same bounds as asking for the adjusted level directly
    lo, hi = paired_proportion_bounds(10, 2, 100, 0.01)
    assert (five.low, five.high) == pytest.approx((float(lo), float(hi)))
    # a regression that one metric shows but twenty gated metrics cannot
    base, cand = _pairs(30, 6, 0, 24)
    assert gate_binary("t", "m", base, cand).verdict is Verdict.REGRESSION
    assert gate_binary("t", "m", base, cand, gated_metrics=20).verdict is Verdict.INCONCLUSIVE
    with pytest.raises(ValueError, match="at least 1"):
        adjusted_alpha(0.05, 0)


def test_score_interval_with_no_discordant_pair_is_wilson_like():
    # no item changed: the bound is z^2 / (n + z^2), never [0, 0]
    z = stats.norm.ppf(0.95)
    lo, hi = paired_proportion_bounds(0, 0, 164, 0.05)
    assert float(lo) == pytest.approx(-z * z / (164 + z * z)) and float(hi) == pytest.approx(z * z / (164 + z * z))
    lo, hi = paired_proportion_bounds(8, 0, 8, 0.05)
    assert float(lo) == -1.0 and float(hi) < 0


@pytest.mark.parametrize(("n", "p_lost", "p_gained"), [(20, 0.1, 0.05), (50, 0.2, 0.1), (164, 0.1, 0.0),
                                                       (164, 0.05, 0.05), (30, 0.0, 0.1)])
def test_score_interval_covers_near_the_nominal_level(n, p_lost, p_gained):
    rng = np.random.default_rng(11)
    draws = rng.multinomial(n, [p_lost, p_gained, 1 - p_lost - p_gained], size=4000)
    lo, hi = paired_proportion_bounds(draws[:, 0], draws[:, 1], n, 0.05)
    truth = p_gained - p_lost
    for covered in ((lo <= truth).mean(), (hi >= truth).mean()):
        assert 0.92 <= covered <= 0.975


def test_bca_gate_covers_near_the_nominal_level():
    rng = np.random.default_rng(3)
    lows, highs = [], []
    for seed in range(300):
        d = rng.exponential(0.1, size=40) - 0.1  # skewed differences, true mean 0
        r = gate_continuous("t", "m", np.zeros(40), d, resamples=999, seed=seed)
        lows.append(r.low <= 0)
        highs.append(r.high >= 0)
    assert 0.89 <= np.mean(lows) <= 0.99 and 0.89 <= np.mean(highs) <= 0.99


def test_effect_is_the_rank_biserial_of_the_pairs():
    r = gate_binary("t", "pass@1", *_pairs(10, 2, 6, 2))
    assert r.effect == pytest.approx((6 - 2) / 8)
    base = np.linspace(0, 1, 12)
    assert gate_continuous("t", "m", base, base + 0.1).effect == 1.0


def test_overall_verdict():
    res = {v: gate_binary("t", "m", *_pairs(*counts)) for v, counts in
           [(Verdict.IMPROVED, (50, 0, 30, 20)), (Verdict.REGRESSION, (40, 30, 0, 30)),
            (Verdict.INCONCLUSIVE, (4, 0, 0, 4)), (Verdict.NO_REGRESSION, (500, 0, 0, 500))]}
    assert {v: r.verdict for v, r in res.items()} == {v: v for v in res}
    assert overall(res.values()) is Verdict.REGRESSION
    assert overall([res[Verdict.IMPROVED], res[Verdict.INCONCLUSIVE]]) is Verdict.INCONCLUSIVE
    assert overall([res[Verdict.IMPROVED], res[Verdict.NO_REGRESSION]]) is Verdict.IMPROVED
    assert overall([res[Verdict.NO_REGRESSION]]) is Verdict.NO_REGRESSION
    assert overall([]) is Verdict.INCONCLUSIVE


def test_bad_input_names_the_field_and_the_limit():
    assert parse_max_drop(["pass@1=0.02", "codebleu=0.05"]) == {"pass@1": 0.02, "codebleu": 0.05}
    with pytest.raises(ValueError, match=r"'pass@1=2'.*\[0, 1\)"):
        parse_max_drop(["pass@1=2"])
    with pytest.raises(ValueError, match="METRIC=DROP"):
        parse_max_drop(["pass@1"])
    with pytest.raises(ValueError, match="must be a number"):
        parse_max_drop(["pass@1=x"])
    with pytest.raises(ValueError, match="differ in length"):
        gate_binary("t", "pass@1", [True], [True, False])
    with pytest.raises(ValueError, match="margin must be in"):
        gate_binary("t", "pass@1", [True], [True], margin=-0.1)
    with pytest.raises(ValueError, match="finite"):
        gate_continuous("t", "bleu", [math.nan] * 10, [0.0] * 10)
    assert gate_binary("t", "pass@1", [], []).verdict is Verdict.INCONCLUSIVE
