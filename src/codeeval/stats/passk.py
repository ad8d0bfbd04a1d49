"""The unbiased pass@k estimator (Chen et al. 2021) and bootstrap confidence intervals over tasks.

For one task with ``n`` scored samples of which ``c`` pass, pass@k = 1 - C(n-c, k) / C(n, k),
computed in the numerically stable product form 1 - prod_{i=n-c+1}^{n} (1 - k / i) (no huge
binomials). Samples that ended in a sandbox error are *not* scored: they are counted per task as
``infra_errors`` and left out of ``n``, so infrastructure never counts as a model failure.
pass@k is reported only for k <= n of every task. The confidence interval is a percentile
bootstrap over tasks (tasks are the unit of sampling; samples within a task are not resampled).
Cost: O(tasks x resamples) with numpy.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np


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
    """Mean pass@k over tasks with a percentile-bootstrap CI, for each k <= min(n) (others omitted)."""
    tasks = list(tasks)
    if not tasks:
        return {}
    min_n = min(t.n for t in tasks)
    rng = np.random.default_rng(seed)
    index = rng.integers(0, len(tasks), size=(resamples, len(tasks))) if resamples else None
    out: dict[int, PassAtK] = {}
    for k in sorted(set(ks)):
        if k > min_n or k < 1:
            continue
        scores = per_task(tasks, k)
        value = float(scores.mean())
        lo = hi = value
        if index is not None:
            means = scores[index].mean(axis=1)
            alpha = (1 - confidence) / 2
            lo, hi = (float(x) for x in np.quantile(means, [alpha, 1 - alpha]))
        out[k] = PassAtK(k, value, lo, hi, len(tasks), confidence, resamples, seed)
    return out


def omitted_ks(tasks: Sequence[TaskCounts], ks: Iterable[int]) -> list[int]:
    """The requested k for which pass@k is not reported (some task has fewer than k scored samples)."""
    min_n = min((t.n for t in tasks), default=0)
    return sorted(k for k in set(ks) if k > min_n or k < 1)
