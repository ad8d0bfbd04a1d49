"""The unbiased pass@k estimator (Chen et al. 2021) and bootstrap confidence intervals over tasks.

For one task with ``n`` scored samples of which ``c`` pass, pass@k = 1 - C(n-c, k) / C(n, k),
computed in the numerically stable product form 1 - prod_{i=n-c+1}^{n} (1 - k / i) (no huge
binomials). Samples that ended in a sandbox error are *not* scored: they are counted per task as
``infra_errors`` and left out of ``n``, so infrastructure never counts as a model failure.
pass@k is reported only for k <= n of every task (the others are listed as omitted). The
confidence interval is the project's one bootstrap (:func:`codeeval.stats.compare.bootstrap_ci`,
BCa) over tasks: tasks are the unit of sampling, samples within a task are not resampled.

:func:`aggregate` is the one aggregation from per-sample verdicts that ``codeeval exec`` and
``codeeval bench`` both use. Cost: O(tasks x resamples) with numpy/scipy per k.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from codeeval.stats.compare import bootstrap_ci


@dataclass(frozen=True)
class TaskCounts:
    task_id: str
    n: int
    c: int
    infra_errors: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.c <= self.n:
            raise ValueError(f"task {self.task_id}: need 0 <= c <= n, got n={self.n} c={self.c}")
        if self.infra_errors < 0:
            raise ValueError(f"task {self.task_id}: infra_errors must be >= 0")


@dataclass(frozen=True)
class PassAtK:
    k: int
    value: float
    ci_low: float
    ci_high: float
    tasks: int
    confidence: float
    resamples: int
    seed: int

    def as_dict(self) -> dict[str, float | int]:
        return {"k": self.k, "value": self.value, "ci_low": self.ci_low, "ci_high": self.ci_high,
                "tasks": self.tasks, "confidence": self.confidence, "resamples": self.resamples, "seed": self.seed}


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of one task; raises ValueError when k > n or the counts are impossible."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples, the task has n={n}")
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got n={n} c={c}")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def per_task(tasks: Sequence[TaskCounts], k: int) -> np.ndarray:
    return np.array([pass_at_k(t.n, t.c, k) for t in tasks], dtype=float)


def estimate(tasks: Iterable[TaskCounts], ks: Iterable[int], *, resamples: int = 2000, confidence: float = 0.95,
             seed: int = 0) -> dict[int, PassAtK]:
    """Mean pass@k over tasks with a bootstrap CI over tasks, for each k <= min(n) (others omitted);
    ``resamples=0`` gives no interval (both ends are the value)."""
    tasks = list(tasks)
    if not tasks:
        return {}
    min_n = min(t.n for t in tasks)
    out: dict[int, PassAtK] = {}
    for k in sorted(set(ks)):
        if k > min_n or k < 1:
            continue
        scores = per_task(tasks, k)
        value = float(scores.mean())
        lo = hi = value
        if resamples:
            lo, hi = bootstrap_ci(scores, confidence=confidence, resamples=resamples, seed=seed)
        out[k] = PassAtK(k, value, lo, hi, len(tasks), confidence, resamples, seed)
    return out


def omitted_ks(tasks: Sequence[TaskCounts], ks: Iterable[int]) -> list[int]:
    """The requested k for which pass@k is not reported (some task has fewer than k scored samples)."""
    min_n = min((t.n for t in tasks), default=0)
    return sorted(k for k in set(ks) if k > min_n or k < 1)


@dataclass(frozen=True)
class Verdict:
    """One sample's verdict for pass@k: ``passed`` is None for an infrastructure error (a sandbox
    error, or a program the sandbox could not run): such a sample is left out of n and c."""

    task_id: str
    passed: bool | None
    status: str = ""


@dataclass(frozen=True)
class PassAtKSummary:
    """pass@k over tasks from per-sample verdicts, with what was left out and why."""

    scores: dict[int, PassAtK]
    omitted_k: list[int]
    tasks: list[TaskCounts]
    task_ids: int
    samples: int
    infra_errors: int
    status_counts: dict[str, int] = field(default_factory=dict)

    @property
    def tasks_scored(self) -> int:
        return len(self.tasks)


def count_tasks(verdicts: Iterable[Verdict]) -> tuple[list[TaskCounts], int]:
    """(per-task counts for the tasks with at least one scored sample, number of distinct tasks)."""
    per: dict[str, list[int]] = {}
    for v in verdicts:
        t = per.setdefault(v.task_id, [0, 0, 0])
        if v.passed is None:
            t[2] += 1
        else:
            t[0] += 1
            t[1] += v.passed
    return [TaskCounts(k, n, c, infra) for k, (n, c, infra) in per.items() if n > 0], len(per)


def aggregate(verdicts: Iterable[Verdict], ks: Iterable[int], *, resamples: int = 2000, confidence: float = 0.95,
              seed: int = 0) -> PassAtKSummary:
    """The one pass@k aggregation: infrastructure errors are excluded from n and c, counted per
    task and in total; a task with no scored sample is not scored; k above some task's n is omitted."""
    verdicts = list(verdicts)
    ks = list(ks)
    tasks, n_ids = count_tasks(verdicts)
    return PassAtKSummary(
        scores=estimate(tasks, ks, resamples=resamples, confidence=confidence, seed=seed),
        omitted_k=omitted_ks(tasks, ks), tasks=tasks, task_ids=n_ids, samples=len(verdicts),
        infra_errors=sum(v.passed is None for v in verdicts),
        status_counts=dict(Counter(v.status for v in verdicts if v.status)))
