"""Rank-biserial effect size and the BCa bootstrap of codeeval.stats.compare against known values."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from codeeval.stats.compare import bootstrap_ci, paired_binary, paired_continuous, rank_biserial


def test_rank_biserial_matches_the_wilcoxon_statistic():
    rng = np.random.default_rng(7)
    a = rng.normal(size=40)
    b = a + rng.normal(0.3, 1.0, size=40)
    b[:3] = a[:3]  # zero differences are dropped, as the Wilcoxon test does
    d = b - a
    nonzero = int((d != 0).sum())
    t_plus = stats.wilcoxon(b, a, zero_method="wilcox", alternative="greater").statistic
    total = nonzero * (nonzero + 1) / 2
    assert rank_biserial(a, b) == pytest.approx(2 * t_plus / total - 1)
    assert rank_biserial(b, a) == pytest.approx(-rank_biserial(a, b))


def test_rank_biserial_known_cases():
    assert rank_biserial([1, 2, 3], [2, 3, 4]) == 1.0
    assert rank_biserial([2, 3, 4], [1, 2, 3]) == -1.0
    assert rank_biserial([1, 1], [1, 1]) == 0.0
    # differences +1, -2, +3: ranks 1, 2, 3 -> (1 + 3 - 2) / 6
    assert rank_biserial([0, 0, 0], [1, -2, 3]) == pytest.approx(2 / 6)
    with pytest.raises(ValueError, match="differ in length"):
        rank_biserial([1.0], [1.0, 2.0])


def test_paired_continuous_reports_the_paired_effect():
    a = list(np.linspace(0, 1, 20))
    t = paired_continuous("t", "bleu", a, [x + 0.05 for x in a])
    assert t.effect == 1.0  # every pair improved; an unpaired Cliff's delta would be about 0.1 here


def test_bca_matches_the_t_interval_on_normal_data():
    v = np.random.default_rng(2).normal(1.0, 1.0, size=400)
    lo, hi = bootstrap_ci(v, confidence=0.95, resamples=4000, seed=1)
    t_lo, t_hi = stats.t.interval(0.95, v.size - 1, loc=v.mean(), scale=stats.sem(v))
    assert lo == pytest.approx(t_lo, abs=0.02) and hi == pytest.approx(t_hi, abs=0.02)


def test_bca_is_scipys_bca_and_corrects_skew():
    v = np.random.default_rng(4).exponential(1.0, size=50)
    lo, hi = bootstrap_ci(v, confidence=0.9, resamples=3000, seed=8)
    ref = stats.bootstrap((v,), np.mean, confidence_level=0.9, n_resamples=3000, method="BCa",
                          rng=np.random.default_rng(8)).confidence_interval
    assert (lo, hi) == pytest.approx((ref.low, ref.high))
    pct = stats.bootstrap((v,), np.mean, confidence_level=0.9, n_resamples=3000, method="percentile",
                          rng=np.random.default_rng(8)).confidence_interval
    # right-skewed data: BCa moves the interval to the right of the percentile one
    assert lo > pct.low and hi > pct.high
    assert hi - v.mean() > v.mean() - lo


def test_paired_binary_effect_is_the_balance_of_the_discordant_pairs():
    a = [True] * 6 + [False] * 4 + [True] * 10
    b = [False] * 6 + [True] * 4 + [True] * 10  # 6 lost, 4 gained, 10 unchanged
    assert paired_binary("t", "pass@1", a, b).effect == pytest.approx((4 - 6) / 10)
    assert paired_binary("t", "pass@1", a, a).effect == 0.0
