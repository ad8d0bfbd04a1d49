"""Power of the CI gate, said up front: the smallest drop each gated metric can catch.

The gate (:mod:`codeeval.stats.gate`) says REGRESSION when the upper bound of candidate - baseline
is below ``-margin``. The *detectable drop* of a metric is the smallest true drop for which that
happens with probability :data:`POWER` (80%) at the Bonferroni-adjusted confidence.

- pass/fail metrics: computed exactly over every (lost, gained) table of ``n`` items under a
  trinomial model, with the gate's own score interval deciding which tables fire (for each count
  of losses, the firing gains are a prefix, found by bisection). The model of a drop ``d``
  keeps the share of items that change (the *discordance* ``psi``) and moves them towards losses:
  P(lost) = max((psi + d) / 2, d), P(gained) = P(lost) - d. Without a baseline ``psi`` is the worst
  case for two positively correlated runs: independent runs at a 50% pass rate (``psi = 0.5``); with
  a baseline run it is ``2p(1 - p)`` at its pass rate ``p`` (independent runs), or the discordance
  measured between two variants of the baseline when it has several.
- continuous metrics (0-1 scores, pass fractions): the normal approximation of the bootstrap,
  ``margin + (z(1 - alpha) + z(power)) * sd / sqrt(n)``, with the worst-case sd of a difference of
  two independent 0-1 values (``sqrt(0.5)``) or the baseline's (``sqrt(2)`` times its per-item sd,
  or the sd of the differences measured between two variants). Fewer than
  :data:`~codeeval.stats.gate.MIN_BOOTSTRAP_ITEMS` items: the metric can never fire.

A metric *gates* when its detectable drop is at most the target (10 points on a 0-1 metric, the
drop a team most wants to catch). Bonferroni counts the gating metrics only (:func:`plan`), and a
metric that cannot gate is reported as such, never silently gated. Pure: no I/O.
Cost: O(n log n) score intervals per pass/fail metric (cached), then O(n) per power evaluation
(a 164-item task: milliseconds).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from codeeval.stats.gate import (
    DEFAULT_ALPHA,
    DEFAULT_MARGIN,
    MIN_BOOTSTRAP_ITEMS,
    GateInput,
    GateResult,
    Verdict,
    overall,
    paired_proportion_bounds,
    run_gate,
)

POWER = 0.80
#: The drop a gating metric must be able to catch: 10 points of pass@1, or the same on a 0-1 metric.
TARGET_DROP = 0.10
WORST_DISCORDANCE = 0.5
WORST_SD = math.sqrt(0.5)
#: The metrics gated when the team names none: each task's headline metrics, with the default margin.
DEFAULT_GATED = ("pass@1", "compile", "codebleu", "chrf")


@dataclass(frozen=True)
class MetricSpec:
    """One gated metric of one task: ``kind`` is "binary" (pass/fail per item) or "continuous"."""

    task: str
    metric: str
    kind: str
    items: int
    margin: float


@dataclass(frozen=True)
class Spread:
    """What a baseline says about a metric: ``discordance`` (binary) or ``sd`` of the difference."""

    discordance: float | None = None
    sd: float | None = None
    mean: float | None = None
    source: str = "worst case"


@dataclass(frozen=True)
class PowerRow:
    task: str
    metric: str
    kind: str
    items: int
    margin: float
    confidence: float  # one-sided, after Bonferroni
    detectable_drop: float  # math.inf: not within the metric's range
    can_fire: bool  # whether any outcome at all can give REGRESSION
    gating: bool
    assumption: str


@lru_cache(maxsize=256)
def _firing_gains(n: int, alpha: float, margin: float) -> NDArray[np.int64]:
    """For every count of lost items ``b`` (0..n): how many gained counts (0, 1, ...) still give REGRESSION.

    The upper bound grows with the gains at fixed losses, so the firing tables of a row are a prefix;
    an integer bisection per row finds it. O(n log n) score intervals.
    """
    lost = np.arange(n + 1)
    lo, hi = np.zeros(n + 1, dtype=np.int64), n - lost + 1  # answer in [lo, hi]: fires for gained < answer
    while np.any(lo < hi):
        mid = (lo + hi) // 2  # test gained = mid (only where lo < hi, i.e. mid <= n - lost)
        gained = np.minimum(mid, n - lost)
        fires = paired_proportion_bounds(lost, gained, n, alpha)[1] < -margin
        lo, hi = np.where((lo < hi) & fires, mid + 1, lo), np.where((lo < hi) & ~fires, mid, hi)
    return lo


def _path(drop: float, discordance: float) -> tuple[float, float]:
    p_lost = min(max((discordance + drop) / 2.0, drop), 1.0)
    return p_lost, max(p_lost - drop, 0.0)


def power_binary(n: int, drop: float, *, discordance: float, margin: float, alpha: float) -> float:
    """Exact probability that the gate says REGRESSION when the true pass rate drops by ``drop``.

    Losses are binomial(n, P(lost)); given b losses, gains are binomial(n - b, P(gained) / (1 - P(lost))).
    """
    firing = _firing_gains(n, alpha, margin)
    p_lost, p_gained = _path(drop, discordance)
    lost = np.arange(n + 1)
    p_gain_given = 0.0 if p_lost >= 1.0 else min(p_gained / (1.0 - p_lost), 1.0)
    caught = np.where(firing > 0, stats.binom.cdf(firing - 1, n - lost, p_gain_given), 0.0)
    return float(np.sum(stats.binom.pmf(lost, n, p_lost) * caught))


def can_fire_binary(n: int, *, margin: float, alpha: float) -> bool:
    """Whether losing every one of ``n`` items (the most extreme outcome) would give REGRESSION."""
    return n > 0 and bool(paired_proportion_bounds(n, 0, n, alpha)[1] < -margin)


def detectable_drop_binary(n: int, *, margin: float, alpha: float, discordance: float = WORST_DISCORDANCE,
                           power: float = POWER, max_drop: float = 1.0) -> float:
    """Smallest drop (to 1e-4) found with ``power``; ``math.inf`` when even ``max_drop`` is not."""
    if n <= 0 or power_binary(n, max_drop, discordance=discordance, margin=margin, alpha=alpha) < power:
        return math.inf
    lo, hi = 0.0, max_drop
    while hi - lo > 1e-4:
        mid = (lo + hi) / 2.0
        if power_binary(n, mid, discordance=discordance, margin=margin, alpha=alpha) >= power:
            hi = mid
        else:
            lo = mid
    return hi


def detectable_drop_continuous(n: int, *, margin: float, alpha: float, sd: float = WORST_SD,
                               power: float = POWER, max_drop: float = 1.0) -> float:
    """Normal approximation of the bootstrap gate's detectable drop; ``math.inf`` if out of range."""
    if n < MIN_BOOTSTRAP_ITEMS:
        return math.inf
    drop = margin + float(stats.norm.ppf(1.0 - alpha) + stats.norm.ppf(power)) * sd / math.sqrt(n)
    return drop if drop <= max_drop else math.inf


def metric_kind(metric: str, samples: int) -> str:
    """"binary" for per-item pass/fail (pass@1 with one sample per item, compile), else "continuous"."""
    return "binary" if metric == "compile" or (metric == "pass@1" and samples == 1) else "continuous"


def gated_metrics(metrics: Iterable[str], margins: Mapping[str, float], *,
                  default_margin: float) -> dict[str, float]:
    """The metrics of a task that the gate decides on, with their margins.

    ``margins`` (from ``--max-drop``) name metrics and margins; without any, the task's
    :data:`DEFAULT_GATED` metrics get ``default_margin``. ``pass@1`` stands for the task's pass metric.
    """
    chosen = margins or dict.fromkeys(DEFAULT_GATED, default_margin)
    return {m: chosen[m] for m in metrics if m in chosen}


def _row(spec: MetricSpec, spread: Spread | None, alpha: float, target: float) -> PowerRow:
    spread = spread or Spread()
    max_drop = spread.mean if spread.mean is not None else 1.0
    if spec.kind == "binary":
        psi = WORST_DISCORDANCE if spread.discordance is None else spread.discordance
        drop = detectable_drop_binary(spec.items, margin=spec.margin, alpha=alpha, discordance=psi,
                                      max_drop=max_drop)
        fires = can_fire_binary(spec.items, margin=spec.margin, alpha=alpha)
        assumption = f"discordance {psi:.2f} ({spread.source})"
    else:
        sd = WORST_SD if spread.sd is None else spread.sd
        drop = detectable_drop_continuous(spec.items, margin=spec.margin, alpha=alpha, sd=sd, max_drop=max_drop)
        fires = spec.items >= MIN_BOOTSTRAP_ITEMS
        assumption = f"sd of the difference {sd:.3f} ({spread.source})"
    return PowerRow(spec.task, spec.metric, spec.kind, spec.items, spec.margin, 1.0 - alpha, drop, fires,
                    drop <= target, assumption)


def plan(specs: Sequence[MetricSpec], spreads: Mapping[tuple[str, str], Spread] | None = None, *,
         alpha: float = DEFAULT_ALPHA, target: float = TARGET_DROP) -> list[PowerRow]:
    """Power rows for every metric with a margin, marked gating or not (see the module docstring).

    1. every metric at ``alpha`` (no adjustment): one that cannot detect ``target`` even so is not
       gating, and takes no share of ``alpha`` (it is reported at ``alpha``, its best case);
    2. the ``c`` candidates left at ``alpha / c``: those that still detect ``target`` gate;
    3. the ``k`` gating metrics are reported at ``alpha / k`` (they gate a fortiori), the other
       candidates at ``alpha / c``, where they were judged.
    """
    spreads = spreads or {}

    def rows_at(level: float, chosen: Sequence[MetricSpec]) -> list[PowerRow]:
        return [_row(s, spreads.get((s.task, s.metric)), level, target) for s in chosen]

    first = rows_at(alpha, specs)
    candidates = [s for s, r in zip(specs, first, strict=True) if r.gating]
    judged = dict(zip(((s.task, s.metric) for s in candidates), rows_at(alpha / max(1, len(candidates)), candidates),
                      strict=True))
    gating = [s for s in candidates if judged[(s.task, s.metric)].gating]
    final = dict(zip(((s.task, s.metric) for s in gating), rows_at(alpha / max(1, len(gating)), gating), strict=True))
    return [final.get((s.task, s.metric)) or judged.get((s.task, s.metric)) or r for s, r in zip(specs, first,
                                                                                                  strict=True)]


def never_fire(rows: Iterable[PowerRow]) -> list[str]:
    """One warning per metric for which no outcome at all can give REGRESSION."""
    return [f"{r.task} {r.metric}: can never fire: even losing all {r.items} items gives no REGRESSION at "
            f"{r.confidence:.4f} confidence with a {r.margin:g} margin" if r.kind == "binary" else
            f"{r.task} {r.metric}: can never fire: {r.items} items, a bootstrap interval needs "
            f"{MIN_BOOTSTRAP_ITEMS}" for r in rows if not r.can_fire]


@dataclass(frozen=True)
class GateReport:
    """What the gate says about a candidate: every metric with a margin (``rows``: gating or not, with
    its detectable drop), the gating metrics' verdicts (``results``), the overall verdict, warnings."""

    rows: list[PowerRow]
    results: list[GateResult]
    verdict: Verdict
    warnings: list[str]


def evaluate(baseline: Mapping[str, Any], candidate: Mapping[str, Any], *, margins: Mapping[str, float] | None = None,
             history: Sequence[Mapping[str, Any]] = (), alpha: float = DEFAULT_ALPHA, target: float = TARGET_DROP,
             default_margin: float = DEFAULT_MARGIN, seed: int = 0) -> GateReport:
    """The whole gate on two results.json dicts: plan which metrics gate, then decide on those.

    The plan (:func:`plan`) uses the item counts and the spreads of ``history`` (the baseline's run
    with its variants, e.g. base and the last accepted adapter) or of ``baseline`` alone, never the
    candidate: which metrics count is fixed before looking at it. Only gating metrics take a share of
    ``alpha`` and decide the verdict; with none the verdict is INCONCLUSIVE and a warning says why.
    ``margins`` as in :func:`gated_metrics`. Cost: one bootstrap per continuous gating metric.
    """
    specs, inputs = [], {}
    for (task, metric), (a, b) in paired_values(baseline, candidate).items():
        chosen = gated_metrics([metric], margins or {}, default_margin=default_margin)
        if metric not in chosen:
            continue
        binary = metric in ("pass@1", "compile") and all(v in (0.0, 1.0) for v in (*a, *b))
        kind = "binary" if binary else "continuous"
        specs.append(MetricSpec(task, metric, kind, len(a), chosen[metric]))
        inputs[(task, metric)] = GateInput(task, metric, kind, chosen[metric], a, b)
    rows = plan(specs, spreads_from_results(list(history) or [baseline]), alpha=alpha, target=target)
    results = run_gate([inputs[(r.task, r.metric)] for r in rows if r.gating], alpha=alpha, seed=seed)
    warnings = never_fire(rows)
    if not results:
        warnings.append(f"no gated metric can detect a {target:g} drop with {POWER:.0%} power on these items: "
                        "the gate cannot tell (more items, or a baseline run whose variants show less change)")
    return GateReport(rows, results, overall(results), warnings)


def _pairs(runs: Sequence[Mapping[str, Any]]) -> list[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    return [(a, b) for i, a in enumerate(runs) for b in runs[i + 1:]]


def spreads_from_results(runs: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], Spread]:
    """Baseline spreads from results.json dicts (``codeeval.pipeline.results/v1``); several runs = variants.

    Kept small on purpose: it reads only ``tasks.<task>.instances.<item>`` (``passed``, ``c``/``n``,
    ``compiled``, ``metrics``). Binary metrics: pass rate and, with two or more runs, the largest
    discordance between two of them; continuous: the per-item sd, or the largest sd of the
    differences between two runs.
    """
    out: dict[tuple[str, str], Spread] = {}
    tasks = sorted({t for r in runs for t in r.get("tasks", {})})
    for task in tasks:
        per_run = [r["tasks"][task].get("instances", {}) for r in runs if task in r.get("tasks", {})]
        values: dict[str, list[dict[str, float]]] = {}
        for inst in per_run:
            for metric, by_item in _item_values(inst).items():
                values.setdefault(metric, []).append(by_item)
        for metric, by_run in values.items():
            out[(task, metric)] = _spread(by_run, binary=metric in ("pass@1", "compile") and _is_binary(by_run))
    return out


def paired_values(baseline: Mapping[str, Any], candidate: Mapping[str, Any]
                  ) -> dict[tuple[str, str], tuple[list[float], list[float]]]:
    """Per (task, metric) of two results.json dicts: the values of the items both have, in item order.

    ``pass@1`` is the per-item pass fraction (0/1 with one sample), ``compile`` 0/1, the reference
    metrics their per-item scores; what :class:`codeeval.stats.gate.GateInput` takes.
    """
    out: dict[tuple[str, str], tuple[list[float], list[float]]] = {}
    for task in sorted(set(baseline.get("tasks", {})) & set(candidate.get("tasks", {}))):
        a = _item_values(baseline["tasks"][task].get("instances", {}))
        b = _item_values(candidate["tasks"][task].get("instances", {}))
        for metric in sorted(set(a) & set(b)):
            items = sorted(set(a[metric]) & set(b[metric]))
            out[(task, metric)] = ([a[metric][i] for i in items], [b[metric][i] for i in items])
    return out


def _item_values(instances: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for item, inst in instances.items():
        if inst.get("n"):
            out.setdefault("pass@1", {})[item] = float(inst.get("c", 0)) / float(inst["n"])
        if len(inst.get("compiled") or []) == 1:
            out.setdefault("compile", {})[item] = float(bool(inst["compiled"][0]))
        for m, v in (inst.get("metrics") or {}).items():
            out.setdefault(m, {})[item] = float(v)
    return out


def _is_binary(by_run: list[dict[str, float]]) -> bool:
    return all(v in (0.0, 1.0) for r in by_run for v in r.values())


def _spread(by_run: list[dict[str, float]], *, binary: bool) -> Spread:
    first = np.array(list(by_run[0].values()))
    mean = float(first.mean()) if first.size else None
    diffs = []
    for a, b in _pairs(by_run):
        common = sorted(set(a) & set(b))
        if common:
            diffs.append(np.array([b[i] - a[i] for i in common]))
    if binary:
        if diffs:
            return Spread(discordance=max(float(np.mean(d != 0)) for d in diffs), mean=mean,
                          source=f"measured between {len(by_run)} baseline variants")
        p = mean or 0.0
        return Spread(discordance=2 * p * (1 - p), mean=mean, source=f"independent runs at pass rate {p:.2f}")
    if diffs and all(d.size > 1 for d in diffs):
        return Spread(sd=max(float(np.std(d, ddof=1)) for d in diffs), mean=mean,
                      source=f"measured between {len(by_run)} baseline variants")
    sd = float(np.std(first, ddof=1)) * math.sqrt(2) if first.size > 1 else WORST_SD
    return Spread(sd=sd, mean=mean, source="independent runs at the baseline's spread")
