"""The CI gate: a non-inferiority verdict per metric from a confidence interval of the paired difference.

For every gated metric the team sets a margin (the largest drop it accepts, ``pass@1=0.02``). The
difference is candidate minus baseline over the items both runs have, and its one-sided bounds are
taken at confidence ``1 - alpha / m`` (Bonferroni over the ``m`` gated metrics), so that the chance
of any false verdict across the whole gate stays at most ``alpha``:

- ``IMPROVED``: the lower bound is above 0 (better, beyond doubt);
- ``NO_REGRESSION``: the lower bound is above ``-margin`` (no drop as large as the margin);
- ``REGRESSION``: the upper bound is below ``-margin`` (a drop larger than the margin);
- ``INCONCLUSIVE``: otherwise (the interval contains ``-margin``: too few items, or too close).

Intervals:

- pass/fail per item: Tango's score interval for the difference of paired proportions (Tango 1998,
  Stat Med 17:891), built from the discordant pairs (items lost, items gained) and the item count.
  Chosen over the exact conditional (McNemar) interval, which bounds the share of discordant pairs
  that were losses and needs the discordance rate plugged in to speak about the difference, and over
  a bootstrap, which collapses to ``[0, 0]`` when no item changed however few items there are (and
  would then pass a 4-item task). Its coverage is checked by simulation in the tests.
- continuous per-item values (CodeBLEU, BLEU, pass fractions with n > 1 samples): the BCa bootstrap
  (``scipy.stats.bootstrap``) of the mean per-item difference, which needs at least
  :data:`MIN_BOOTSTRAP_ITEMS` items; with fewer the verdict is ``INCONCLUSIVE``.

The effect size beside every verdict is the matched-pairs rank-biserial correlation (for pass/fail
it is ``(gained - lost) / (gained + lost)``). Everything here is pure: no I/O.
Cost: the score interval is a 60-step bisection (vectorised over many tables at once); the bootstrap
is O(resamples * n).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from codeeval.stats.compare import bootstrap_ci, rank_biserial

#: Below this many paired items a bootstrap interval is not trusted: the verdict is INCONCLUSIVE.
MIN_BOOTSTRAP_ITEMS = 10
#: The one-sided level before the Bonferroni adjustment (95% confidence).
DEFAULT_ALPHA = 0.05
#: The drop a team accepts when it sets none (2 points on a 0-1 metric).
DEFAULT_MARGIN = 0.02


class Verdict(StrEnum):
    IMPROVED = "improved"
    NO_REGRESSION = "no regression"
    INCONCLUSIVE = "inconclusive"
    REGRESSION = "regression"


@dataclass(frozen=True)
class GateResult:
    """The verdict on one metric of one task. ``low``/``high`` are the one-sided bounds at ``confidence``."""

    task: str
    metric: str
    kind: str  # "binary" or "continuous"
    method: str  # "tango-score" or "bca-bootstrap"
    n: int
    baseline: float
    candidate: float
    diff: float
    low: float
    high: float
    margin: float
    confidence: float
    verdict: Verdict
    reason: str
    effect: float  # matched-pairs rank-biserial of candidate over baseline
    lost: int | None = None  # binary: items the baseline passed and the candidate failed
    gained: int | None = None


def adjusted_alpha(alpha: float, gated_metrics: int) -> float:
    """Bonferroni: the one-sided level of each of ``gated_metrics`` bounds so that all hold at ``1 - alpha``."""
    if not 0.0 < alpha < 0.5:
        raise ValueError(f"alpha must be in (0, 0.5), got {alpha}")
    if gated_metrics < 1:
        raise ValueError(f"the number of gated metrics must be at least 1, got {gated_metrics}")
    return alpha / gated_metrics


def decide(low: float, high: float, margin: float) -> tuple[Verdict, str]:
    """The verdict from one-sided bounds of candidate - baseline and the accepted drop ``margin``."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return Verdict.INCONCLUSIVE, "no interval"
    if low > 0:
        return Verdict.IMPROVED, f"lower bound {low:+.3f} > 0"
    if low > -margin:
        return Verdict.NO_REGRESSION, f"lower bound {low:+.3f} > -{margin:g}"
    if high < -margin:
        return Verdict.REGRESSION, f"upper bound {high:+.3f} < -{margin:g}"
    return Verdict.INCONCLUSIVE, f"[{low:+.3f}, {high:+.3f}] contains -{margin:g}"


def _tango_z(delta: NDArray[np.float64], lost: NDArray[np.float64], gained: NDArray[np.float64],
             n: NDArray[np.float64]) -> NDArray[np.float64]:
    """Tango's score statistic at ``delta`` (= P(gain) - P(loss)); decreasing in ``delta``."""
    a = 2.0 * n
    b = -(lost + gained) + (2.0 * n + lost - gained) * delta
    c = -lost * delta * (1.0 - delta)
    p_lost = (-b + np.sqrt(np.maximum(b * b - 4.0 * a * c, 0.0))) / (2.0 * a)  # restricted MLE of P(loss)
    var = n * (2.0 * p_lost + delta * (1.0 - delta))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (gained - lost - n * delta) / np.sqrt(var)
    return np.nan_to_num(z, nan=0.0, posinf=np.inf, neginf=-np.inf)


def paired_proportion_bounds(lost: ArrayLike, gained: ArrayLike, n: ArrayLike, alpha: float
                             ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """One-sided ``1 - alpha`` bounds of P(gain) - P(loss) from discordant counts (Tango's score interval).

    Vectorised: ``lost``, ``gained`` and ``n`` broadcast, so a power calculation can bound every
    possible table at once. ``n`` must be positive.
    """
    lo_c, ga_c, n_c = np.broadcast_arrays(np.asarray(lost, dtype=float), np.asarray(gained, dtype=float),
                                          np.asarray(n, dtype=float))
    if np.any(n_c <= 0) or np.any(lo_c < 0) or np.any(ga_c < 0) or np.any(lo_c + ga_c > n_c):
        raise ValueError("need 0 <= lost, gained and lost + gained <= n with n > 0")
    z = float(stats.norm.ppf(1.0 - alpha))
    point = (ga_c - lo_c) / n_c
    eps = 1e-12

    def solve(target: float, inside: NDArray[np.float64], outside: NDArray[np.float64]) -> NDArray[np.float64]:
        # bisection between a point where the score is within the target and the interval's end
        for _ in range(60):
            mid = (inside + outside) / 2.0
            within = np.abs(_tango_z(mid, lo_c, ga_c, n_c)) <= target
            inside, outside = np.where(within, mid, inside), np.where(within, outside, mid)
        return inside

    floor, ceiling = np.full_like(point, -1.0 + eps), np.full_like(point, 1.0 - eps)
    low = np.where(_tango_z(floor, lo_c, ga_c, n_c) <= z, -1.0, solve(z, point.copy(), floor))
    high = np.where(_tango_z(ceiling, lo_c, ga_c, n_c) >= -z, 1.0, solve(z, point.copy(), ceiling))
    return low, high


def gate_binary(task: str, metric: str, baseline: Sequence[bool], candidate: Sequence[bool], *,
                margin: float = DEFAULT_MARGIN, alpha: float = DEFAULT_ALPHA, gated_metrics: int = 1) -> GateResult:
    """Gate a pass/fail metric on paired items (same order in both sequences)."""
    x, y = np.asarray(baseline, dtype=bool), np.asarray(candidate, dtype=bool)
    _check_pair(metric, x, y, margin)
    a = adjusted_alpha(alpha, gated_metrics)
    n = int(x.size)
    lost, gained = int((x & ~y).sum()), int((~x & y).sum())
    if n == 0:
        return GateResult(task, metric, "binary", "tango-score", 0, math.nan, math.nan, math.nan, math.nan,
                          math.nan, margin, 1 - a, Verdict.INCONCLUSIVE, "no paired items", 0.0, 0, 0)
    low, high = paired_proportion_bounds(lost, gained, n, a)
    verdict, reason = decide(float(low), float(high), margin)
    effect = (gained - lost) / (gained + lost) if gained + lost else 0.0
    return GateResult(task, metric, "binary", "tango-score", n, float(x.mean()), float(y.mean()),
                      (gained - lost) / n, float(low), float(high), margin, 1 - a, verdict, reason, effect,
                      lost, gained)


def gate_continuous(task: str, metric: str, baseline: Sequence[float], candidate: Sequence[float], *,
                    margin: float = DEFAULT_MARGIN, alpha: float = DEFAULT_ALPHA, gated_metrics: int = 1,
                    resamples: int = 4999, seed: int = 0) -> GateResult:
    """Gate a continuous per-item metric (same item order in both sequences) with a BCa bootstrap."""
    x, y = np.asarray(baseline, dtype=float), np.asarray(candidate, dtype=float)
    _check_pair(metric, x, y, margin)
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError(f"{metric}: per-item values must be finite numbers")
    a = adjusted_alpha(alpha, gated_metrics)
    n = int(x.size)
    d = y - x
    mean_x, mean_y, diff = (float(x.mean()), float(y.mean()), float(d.mean())) if n else (math.nan,) * 3
    if n < MIN_BOOTSTRAP_ITEMS:
        return GateResult(task, metric, "continuous", "bca-bootstrap", n, mean_x, mean_y, diff, math.nan,
                          math.nan, margin, 1 - a, Verdict.INCONCLUSIVE,
                          f"{n} paired items; a bootstrap interval needs at least {MIN_BOOTSTRAP_ITEMS}",
                          rank_biserial(x, y) if n else 0.0)
    low, high = bootstrap_ci(d, confidence=1.0 - 2.0 * a, resamples=resamples, seed=seed)
    verdict, reason = decide(low, high, margin)
    return GateResult(task, metric, "continuous", "bca-bootstrap", n, mean_x, mean_y, diff, low, high, margin,
                      1 - a, verdict, reason, rank_biserial(x, y))


def _check_pair(metric: str, x: NDArray[np.generic], y: NDArray[np.generic], margin: float) -> None:
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"{metric}: paired samples differ in length: {x.size} baseline vs {y.size} candidate")
    if not 0.0 <= margin < 1.0:
        raise ValueError(f"{metric}: margin must be in [0, 1), got {margin}")


@dataclass(frozen=True)
class GateInput:
    """One gated metric: per-item values of the baseline and the candidate over the same items, in order."""

    task: str
    metric: str
    kind: str  # "binary" or "continuous" (see codeeval.stats.power.metric_kind)
    margin: float
    baseline: Sequence[float]
    candidate: Sequence[float]


def run_gate(inputs: Sequence[GateInput], *, alpha: float = DEFAULT_ALPHA, seed: int = 0) -> list[GateResult]:
    """Every input gated at ``alpha / len(inputs)`` (Bonferroni over the gated metrics), in input order.

    Give only the metrics that gate (:func:`codeeval.stats.power.plan`): a metric that cannot
    detect the drop a team cares about would only take a share of ``alpha``.
    """
    m = max(1, len(inputs))
    out = []
    for g in inputs:
        if g.kind == "binary":
            out.append(gate_binary(g.task, g.metric, [bool(v) for v in g.baseline], [bool(v) for v in g.candidate],
                                   margin=g.margin, alpha=alpha, gated_metrics=m))
        elif g.kind == "continuous":
            out.append(gate_continuous(g.task, g.metric, g.baseline, g.candidate, margin=g.margin, alpha=alpha,
                                       gated_metrics=m, seed=seed))
        else:
            raise ValueError(f"{g.task} {g.metric}: kind must be 'binary' or 'continuous', got {g.kind!r}")
    return out


def overall(results: Iterable[GateResult]) -> Verdict:
    """The gate's verdict: any regression, else any inconclusive, else improved if any improved.

    An empty gate (no gated metric) is INCONCLUSIVE: nothing was shown.
    """
    verdicts = [r.verdict for r in results]
    if not verdicts:
        return Verdict.INCONCLUSIVE
    for v in (Verdict.REGRESSION, Verdict.INCONCLUSIVE, Verdict.IMPROVED):
        if v in verdicts:
            return v
    return Verdict.NO_REGRESSION


def parse_max_drop(values: Iterable[str]) -> dict[str, float]:
    """``["pass@1=0.02", "codebleu=0.05"]`` -> margins by metric; ValueError names the bad entry and the limit."""
    out: dict[str, float] = {}
    for v in values:
        metric, sep, raw = v.partition("=")
        metric = metric.strip()
        if not sep or not metric:
            raise ValueError(f"--max-drop {v!r}: expected METRIC=DROP, e.g. pass@1=0.02")
        try:
            margin = float(raw)
        except ValueError:
            raise ValueError(f"--max-drop {v!r}: DROP must be a number in [0, 1), got {raw!r}") from None
        if not 0.0 <= margin < 1.0:
            raise ValueError(f"--max-drop {v!r}: DROP must be in [0, 1) (a share of the 0-1 metric), got {margin}")
        out[metric] = margin
    return out
