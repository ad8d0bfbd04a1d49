"""Paired statistics against known values (scipy / hand computations)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from codeeval.stats.compare import (
    bootstrap_ci,
    holm,
    mcnemar_exact,
    paired_binary,
    paired_continuous,
    wilcoxon_signed_rank,
    with_holm,
)


def test_mcnemar_exact_values():
    assert mcnemar_exact(0, 0) == 1.0
    # 0 vs 6 discordant pairs: two-sided binomial p = 2 * 0.5**6
    assert mcnemar_exact(0, 6) == pytest.approx(2 * 0.5**6)
    assert mcnemar_exact(3, 3) == pytest.approx(1.0)


def test_wilcoxon_identical_and_shifted():
    a = [0.1, 0.4, 0.3, 0.8, 0.5, 0.2, 0.9, 0.7]
    assert wilcoxon_signed_rank(a, a) == 1.0
    b = [x + 0.3 + 0.01 * i for i, x in enumerate(a)]
    assert wilcoxon_signed_rank(a, b) == pytest.approx(2 / 2**8)  # all 8 differences positive: exact p
    with pytest.raises(ValueError, match="differ in length"):
        wilcoxon_signed_rank([1.0], [1.0, 2.0])


def test_bootstrap_ci_contains_the_mean_and_is_deterministic():
    v = np.random.default_rng(2).normal(1.0, 1.0, size=200)
    lo, hi = bootstrap_ci(v, seed=3)
    assert lo < v.mean() < hi and hi - lo < 0.5
    assert bootstrap_ci(v, seed=3) == (lo, hi)
    assert bootstrap_ci([2.0, 2.0]) == (2.0, 2.0)
    assert all(math.isnan(x) for x in bootstrap_ci([]))


def test_holm_against_a_hand_computation():
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


def test_planted_regression_is_significant_and_identical_runs_are_not():
    a = [True] * 30 + [False] * 10
    b = [False] * 20 + [True] * 10 + [False] * 10
    t = with_holm([paired_binary("t", "pass@1", a, b)])[0]
    assert t.diff < 0 and t.regression(0.05)
    same = with_holm([paired_binary("t", "pass@1", a, a), paired_continuous("t", "bleu", [0.2] * 5, [0.2] * 5)])
    assert not any(x.significant(0.05) for x in same)
    up = with_holm([paired_continuous("t", "bleu", list(np.linspace(0, 1, 20)), list(np.linspace(0.2, 1.2, 20)))])
    assert up[0].significant(0.05) and not up[0].regression(0.05) and up[0].effect > 0
