"""Aggregate a run directory's stage files into ``results.json``.

Per task: pass@k (unbiased estimator) with a bootstrap CI over items, outcome counts, compile rate,
reference metrics (mean over items, bootstrap CI, corpus value), summarization leakage, static
quality counted only over analysable programs and normalised per KLOC (with the analysable rate
next to it, over all samples and over passing ones), generation token counts and templates, and the
per-item values that ``codeeval compare`` pairs. Empty answers count as failures and as not
analysable. Cost: one pass over each stage file plus 2000 bootstrap resamples per number.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import numpy as np

from codeeval.bench.stages import TaskItems
from codeeval.bench.store import RunDir
from codeeval.stats.compare import bootstrap_ci
from codeeval.stats.passk import pass_at_k


def _mean_ci(values: list[float], seed: int = 0) -> dict[str, Any]:
    if not values:
        return {"mean": None, "ci": [None, None], "n": 0}
    lo, hi = bootstrap_ci(values, seed=seed)
    return {"mean": float(np.mean(values)), "ci": [lo, hi], "n": len(values)}


def _quality(records: list[dict[str, Any]], files: int) -> dict[str, Any]:
    """Issues over analysable files only, per KLOC; ``files`` counts every sample that should have code."""
    ok = [r for r in records if r.get("analyzable")]
    nloc = sum(r.get("nloc", 0) for r in ok)
    issues = sum(r.get("issues", 0) for r in ok)
    cats: Counter[str] = Counter()
    for r in ok:
        cats.update(r.get("categories", {}))
    kloc = nloc / 1000.0
    ccs = [r["mean_cc"] for r in ok if r.get("mean_cc")]
    return {"files": files, "analyzable": len(ok), "analyzable_rate": len(ok) / files if files else None,
            "issues": issues, "nloc": nloc, "issues_per_kloc": issues / kloc if kloc else None,
            "categories": {c: {"count": n, "per_kloc": n / kloc if kloc else None} for c, n in sorted(cats.items())},
            "mean_cc": float(np.mean(ccs)) if ccs else None,
            "tool_errors": sum(len(r.get("tool_errors", [])) for r in records)}


def judge_results(task: str, records: list[dict[str, Any]], instances: dict[str, dict[str, Any]]
                  ) -> dict[str, Any] | None:
    """Mean of the runs per sample, then mean over items (with CI); unparsable answers are counted."""
    mine = [r for r in records if r["task"] == task]
    if not mine:
        return None
    per_item: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in mine:
        for c, v in (r["scores"] or {}).items():
            per_item[r["item"]][c].append(float(v))
    out: dict[str, Any] = {"judgements": len(mine), "unparsable": sum(r["scores"] is None for r in mine),
                           "judge": sorted({r["judge"] for r in mine}),
                           "rubric_sha256": sorted({r["rubric_sha256"] for r in mine})}
    for c in ("content_adequacy", "conciseness", "fluency"):
        vals = []
        for item_id, by in per_item.items():
            if by.get(c):
                m = float(np.mean(by[c]))
                instances.setdefault(item_id, {}).setdefault("metrics", {})[f"judge_{c}"] = m
                vals.append(m)
        out[c] = _mean_ci(vals)
    return out


def task_results(ti: TaskItems, gens: list[dict], exts: dict, execs: dict, analysis: dict,
                 score: dict | None, judgements: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    task = ti.task
    n = task.generation.n
    instances: dict[str, dict[str, Any]] = {}
    outcomes: Counter[str] = Counter()
    compiled_checked = compiled_ok = not_run = 0
    quality_all, quality_pass = [], []
    for item in ti.items:
        passed, compiled = [], []
        for s in range(n):
            e = exts.get((task.name, item.id, s))
            if e is None:
                continue
            ex = execs.get(e["key"]) if e["key"] else None
            outcome = ex["outcome"] if ex else ("NO_CODE" if task.kind != "summarization" else None)
            if outcome:
                outcomes[outcome] += 1
            if task.kind != "summarization":
                ok = outcome == "PASSED"
                passed.append(ok)
                if outcome == "NOT_RUN":
                    not_run += 1
                elif outcome and outcome != "SANDBOX_ERROR":
                    compiled_checked += 1
                    is_compiled = outcome not in ("COMPILE_ERROR", "NO_CODE")
                    compiled_ok += is_compiled
                    compiled.append(is_compiled)
                if "quality" in task.metrics:
                    rec = analysis.get(e["key"]) if e["key"] else {"analyzable": False}
                    if rec is not None:
                        quality_all.append(rec)
                        if ok:
                            quality_pass.append(rec)
        inst: dict[str, Any] = {"n": len(passed) if passed else None}
        if task.kind != "summarization":
            inst.update(c=sum(passed), passed=passed, compiled=compiled)
        instances[item.id] = inst
    if score:
        per_item: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        for row in score["instances"]:
            for m, v in row["metrics"].items():
                per_item[row["item"]][m].append(v)
        for item_id, metrics in per_item.items():
            instances.setdefault(item_id, {})["metrics"] = {m: float(np.mean(v)) for m, v in metrics.items()}
    out: dict[str, Any] = {
        "kind": task.kind, "language": task.language, "source_language": task.source_language,
        "items": len(ti.items), "n": n, "samples": sum(1 for g in gens if g["task"] == task.name),
        "outcomes": dict(sorted(outcomes.items())), "instances": instances,
    }
    if task.pass_ks:
        out["pass_at_k"] = {}
        for k in task.pass_ks:
            vals = [pass_at_k(v["n"], v["c"], k) for v in instances.values() if v.get("n") and v["n"] >= k]
            out["pass_at_k"][str(k)] = _mean_ci(vals)
    if task.kind != "summarization":
        out["compile"] = {"checked": compiled_checked, "compiled": compiled_ok, "not_run": not_run,
                          "rate": compiled_ok / compiled_checked if compiled_checked else None}
    if "quality" in task.metrics:
        out["quality"] = {"all": _quality(quality_all, len(quality_all)),
                          "passing": _quality(quality_pass, len(quality_pass))}
    if score:
        out["metrics"] = {}
        for m in task.score_metrics:
            vals = [v["metrics"][m] for v in instances.values() if m in v.get("metrics", {})]
            out["metrics"][m] = {**_mean_ci(vals), "corpus": score["corpus"].get(m)}
        out["leakage"] = score.get("leakage")
        out["scorer_tools"] = score.get("tools", [])
    judged = judge_results(task.name, judgements or [], instances)
    if judged:
        out["judge"] = judged
    mine = [g for g in gens if g["task"] == task.name]
    out["generation"] = {
        "prompt_tokens": sum(g["prompt_tokens"] for g in mine),
        "completion_tokens": sum(g["completion_tokens"] for g in mine),
        "truncated": sum(g["finish_reason"] == "FINISH_REASON_LENGTH" for g in mine),
        "templates": sorted({f"{g['template']} {g['template_sha256'][:12]}" for g in mine}),
        "seeds": sorted({g["seed"] for g in mine})[:5],
    }
    return out


def build_results(run: RunDir, tasks: list[TaskItems]) -> dict[str, Any]:
    gens = list(run.store("generate").records())
    exts = {(e["task"], e["item"], e["sample"]): e for e in run.store("extract").records()}
    execs = {r["key"]: r for r in run.store("execute").records()}
    analysis = {r["key"]: r for r in run.store("analyze").records()}
    scores = {r["task"]: r for r in run.store("score").records()}
    judgements = list(run.store("judge").records())
    receipt = run.read_json("receipt.json") if run.exists("receipt.json") else {}
    return {
        "schema": "codeeval.bench.results/v1",
        "variant": receipt.get("variant"),
        "suite": receipt.get("suite"),
        "receipt": receipt,
        "tasks": {ti.task.name: task_results(ti, gens, exts, execs, analysis, scores.get(ti.task.name), judgements)
                  for ti in tasks},
    }
