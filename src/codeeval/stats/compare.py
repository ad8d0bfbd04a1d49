"""Paired comparison of two runs on the same items (the study's tests, done right).

- pass/fail per item (greedy or one sample): exact McNemar on the discordant pairs;
- continuous per-item values (metrics, pass fractions with n > 1): Wilcoxon signed-rank (zero
  differences dropped, Pratt would keep them; scipy's ``wilcoxon`` with ``zero_method="wilcox"``),
  with the matched-pairs rank-biserial correlation as the effect size (the paired effect that goes
  with the signed-rank test; an unpaired Cliff's delta would ignore the pairing);
- a BCa bootstrap CI (``scipy.stats.bootstrap``) of the mean paired difference for every metric;
- Holm's step-down correction over all tests of one comparison.

All functions are pure and deterministic for a given seed. Cost: bootstrap O(resamples * n) plus an
O(n^2) jackknife for the BCa acceleration.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats


def mcnemar_exact(a_only: int, b_only: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts (A right/B wrong, A wrong/B right)."""
    n = a_only + b_only
    if n == 0:
        return 1.0
    return float(min(1.0, stats.binomtest(min(a_only, b_only), n, 0.5).pvalue))


def wilcoxon_signed_rank(a: ArrayLike, b: ArrayLike) -> float:
    """Two-sided Wilcoxon signed-rank p-value of the paired differences b - a; 1.0 when all are zero."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape:
        raise ValueError(f"paired samples differ in length: {x.size} vs {y.size}")
    d = y - x
    if d.size == 0 or np.all(d == 0):
        return 1.0
    return float(stats.wilcoxon(x, y, zero_method="wilcox").pvalue)


def rank_biserial(a: ArrayLike, b: ArrayLike) -> float:
    """Matched-pairs rank-biserial correlation of b over a, in [-1, 1] (King & Minium; Kerby 2014).

    ``(T+ - T-) / (T+ + T-)`` where T+ and T- are the sums of the ranks of |b - a| over the positive
    and the negative differences; zero differences are dropped, as in :func:`wilcoxon_signed_rank`.
    0.0 when every difference is zero. O(n log n).
    """
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape:
        raise ValueError(f"paired samples differ in length: {x.size} vs {y.size}")
    d = y - x
    d = d[d != 0]
    if d.size == 0:
        return 0.0
    ranks = stats.rankdata(np.abs(d))
    plus, minus = float(ranks[d > 0].sum()), float(ranks[d < 0].sum())
    return (plus - minus) / (plus + minus)


def bootstrap_ci(values: ArrayLike, *, confidence: float = 0.95, resamples: int = 2000,
                 seed: int = 0) -> tuple[float, float]:
    """Two-sided BCa bootstrap CI of the mean of ``values`` (paired differences, or per-item scores).

    ``scipy.stats.bootstrap(method="BCa")``; a constant sample gives its value twice, an empty one
    NaNs, and a sample whose BCa correction is undefined (a bootstrap distribution on one side of the
    mean, which happens with two or three distinct values) falls back to the percentile interval.
    """
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return (float("nan"), float("nan"))
    if v.size == 1 or np.all(v == v[0]):
        return (float(v[0]), float(v[0]))
    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = stats.bootstrap((v,), np.mean, confidence_level=confidence, n_resamples=resamples,
                                  method=method, vectorized=True, rng=np.random.default_rng(seed))
        lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
        if np.isfinite(lo) and np.isfinite(hi):
            return (lo, hi)
    return (float(v.min()), float(v.max()))


def holm(pvalues: ArrayLike) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the input order (monotone, capped at 1)."""
    p = np.asarray(pvalues, dtype=float)
    m = p.size
    order = np.argsort(p, kind="stable")
    adjusted = np.empty(m)
    running = 0.0
    for rank, idx in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[idx]))
        adjusted[idx] = running
    return [float(x) for x in adjusted]


@dataclass(frozen=True)
class PairedTest:
    """One metric of one task compared between run A and run B (B - A; higher is better)."""

    task: str
    metric: str
    test: str  # "mcnemar" or "wilcoxon"
    n: int
    mean_a: float
    mean_b: float
    diff: float
    ci_low: float
    ci_high: float
    p_value: float
    effect: float | None = None  # matched-pairs rank-biserial r (for pass/fail: the discordant pairs' balance)
    p_adjusted: float = 1.0

    def significant(self, alpha: float) -> bool:
        return self.p_adjusted < alpha

    def regression(self, alpha: float) -> bool:
        return self.significant(alpha) and self.diff < 0


def paired_binary(task: str, metric: str, a: ArrayLike, b: ArrayLike, *, seed: int = 0) -> PairedTest:
    x, y = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    a_only, b_only = int((x & ~y).sum()), int((~x & y).sum())
    d = y.astype(float) - x.astype(float)
    lo, hi = bootstrap_ci(d, seed=seed)
    n = int(x.size)
    effect = rank_biserial(x.astype(float), y.astype(float))  # (b_only - a_only) / (a_only + b_only)
    return PairedTest(task, metric, "mcnemar", n, float(x.mean()) if n else 0.0, float(y.mean()) if n else 0.0,
                      float(d.mean()) if n else 0.0, lo, hi, mcnemar_exact(a_only, b_only), effect)


def paired_continuous(task: str, metric: str, a: ArrayLike, b: ArrayLike, *,
                      seed: int = 0) -> PairedTest:
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    d = y - x
    lo, hi = bootstrap_ci(d, seed=seed)
    n = int(x.size)
    return PairedTest(task, metric, "wilcoxon", n, float(x.mean()) if n else 0.0, float(y.mean()) if n else 0.0,
                      float(d.mean()) if n else 0.0, lo, hi, wilcoxon_signed_rank(x, y), rank_biserial(x, y))


def with_holm(tests: Sequence[PairedTest]) -> list[PairedTest]:
    adjusted = holm([t.p_value for t in tests])
    return [replace(t, p_adjusted=p) for t, p in zip(tests, adjusted, strict=True)]
