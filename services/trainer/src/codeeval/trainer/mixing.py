"""Multi-task mixing: which examples of which task make up one epoch.

* ``natural`` - every example of every task once, shuffled (the study's choice; the biggest task dominates);
* ``equal`` - the same number of examples per task (small tasks are repeated, big ones subsampled);
* ``temperature`` - task i drawn with probability n_i^(1/T) / sum_j n_j^(1/T): T=1 is natural, T->inf equal.

The result is deterministic in the seed and reports, per task, examples available, drawn
(``effective``) and their share, which the trainer logs and stores with the adapter.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from codeeval.trainer.readers import Example
from codeeval.trainer.recipe_schema import MixingSpec


@dataclass(frozen=True)
class TaskCount:
    task: str
    available: int
    effective: int
    proportion: float


def _draw(items: list[Example], k: int, rng: random.Random) -> list[Example]:
    """k examples: whole shuffled passes over ``items`` then a partial one (no example twice before all once)."""
    out: list[Example] = []
    while len(out) < k:
        batch = items[:]
        rng.shuffle(batch)
        out.extend(batch[: k - len(out)])
    return out


def mix(per_task: dict[str, list[Example]], spec: MixingSpec, seed: int) -> tuple[list[Example], list[TaskCount]]:
    rng = random.Random(seed)
    tasks = [t for t in per_task if per_task[t]]
    sizes = {t: len(per_task[t]) for t in tasks}
    total = spec.size or sum(sizes.values())
    if spec.strategy == "natural":
        quota = dict(sizes)
    elif spec.strategy == "equal":
        quota = {t: total // len(tasks) + (1 if i < total % len(tasks) else 0) for i, t in enumerate(tasks)}
    else:
        weights = {t: sizes[t] ** (1.0 / spec.temperature) for t in tasks}
        norm = sum(weights.values())
        quota = {t: int(total * w / norm) for t, w in weights.items()}
        remainder = total - sum(quota.values())
        by_fraction = sorted(tasks, key=lambda t: -(total * weights[t] / norm - quota[t]))
        for t in by_fraction[:remainder]:
            quota[t] += 1
    mixed: list[Example] = []
    for t in tasks:
        mixed.extend(_draw(per_task[t], quota[t], rng))
    rng.shuffle(mixed)
    n = max(1, len(mixed))
    counts = [TaskCount(t, len(per_task[t]), quota.get(t, 0), quota.get(t, 0) / n) for t in per_task]
    return mixed, counts
