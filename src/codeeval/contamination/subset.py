"""Metrics of one task of a ``results.json`` recomputed on a subset of its items (the clean subset of
a contamination check), with the aggregations the results use.

:func:`subset_metrics` reads only the per-item ``instances`` values a results file records: pass@k
by :func:`codeeval.stats.passk.aggregate` from each item's ``passed`` list and ``infra_errors``
count (infrastructure errors stay out of n and c, as in the results), the compile rate over the
samples with a verdict, and every per-item reference metric (judge scores included) as the mean over
items with the bootstrap CI of :func:`codeeval.stats.compare.bootstrap_ci` (seed 0, as the results).
On the full set it reproduces the results' own numbers; corpus-level values (a corpus BLEU) need the
texts and are not recomputed. Cost: one pass over the items plus one bootstrap per number.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import numpy as np

from codeeval.stats.compare import bootstrap_ci
from codeeval.stats.passk import Verdict, aggregate


def mean_ci(values: list[float]) -> dict[str, Any]:
    """``{"mean", "ci", "n"}`` of per-item values (mean and CI None when there are none)."""
    if not values:
        return {"mean": None, "ci": [None, None], "n": 0}
    lo, hi = bootstrap_ci(values, seed=0)
    return {"mean": float(np.mean(values)), "ci": [lo, hi], "n": len(values)}


def _verdicts(item: str, inst: Mapping[str, Any]) -> list[Verdict]:
    out = [Verdict(item, bool(ok), "PASSED" if ok else "FAILED") for ok in inst.get("passed") or []]
    return out + [Verdict(item, None, "INFRA")] * int(inst.get("infra_errors") or 0)


def metric_names(task: Mapping[str, Any]) -> list[str]:
    """The task's reference metrics (the results' order), then per-item ones it lists elsewhere (judge)."""
    names = list(task.get("metrics") or {})
    for inst in (task.get("instances") or {}).values():
        names += [m for m in inst.get("metrics") or {} if m not in names]
    return names


def subset_metrics(task: Mapping[str, Any], ids: Collection[str] | None = None) -> dict[str, Any]:
    """The task's numbers over the items ``ids`` (all its items when None; ids it has no record of
    are ignored): ``items``, ``pass_at_k`` (k -> mean, ci, n: items scored) with ``infra_errors`` and
    ``omitted_k`` when the task reports pass@k, ``compile`` (checked, compiled, rate) when it reports
    it, and ``metrics`` (name -> mean, ci, n)."""
    instances = task.get("instances") or {}
    wanted = set(ids) if ids is not None else None
    keep = [i for i in instances if wanted is None or i in wanted]
    out: dict[str, Any] = {"items": len(keep)}
    if "pass_at_k" in task:
        ks = [int(k) for k in task["pass_at_k"]] + [int(k) for k in task.get("omitted_k") or []]
        agg = aggregate([v for i in keep for v in _verdicts(i, instances[i])], ks)
        out["pass_at_k"] = {str(k): {"mean": v.value, "ci": [v.ci_low, v.ci_high], "n": v.tasks}
                            for k, v in agg.scores.items()}
        out["infra_errors"] = agg.infra_errors
        if agg.omitted_k:
            out["omitted_k"] = agg.omitted_k
    if "compile" in task:
        compiled = [bool(c) for i in keep for c in instances[i].get("compiled") or []]
        out["compile"] = {"checked": len(compiled), "compiled": sum(compiled),
                          "rate": sum(compiled) / len(compiled) if compiled else None}
    out["metrics"] = {m: mean_ci([float(instances[i]["metrics"][m]) for i in keep
                                  if m in (instances[i].get("metrics") or {})]) for m in metric_names(task)}
    return out
