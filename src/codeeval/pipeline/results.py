"""Aggregate a run directory's stage records into ``results.json``.

Per task: pass@k by the one aggregation of :func:`codeeval.stats.passk.aggregate` (infrastructure
errors, SANDBOX_ERROR and NOT_RUN, are left out of n and c, counted in ``infra_errors`` and shown;
an item with no scored sample is not scored; a k above some item's n is listed in ``omitted_k``),
outcome counts, compile rate over the samples with a verdict, reference metrics (mean over items,
bootstrap CI, corpus value), the analyzer's leakage report for summarization, the analyzer's own
static-quality summaries over the task's distinct programs (all, and those that passed) with the
number of samples that had no code beside them, generation token counts and templates, and the
per-item values that ``codeeval compare`` pairs, with each item's ``outcomes`` as ``[sample, OUTCOME]``
pairs (the report finds the flipped items' code and stderr in the stage files by them). Samples
served with another chat template than the adapter's (``template_override``, issue 16) are counted
per task and at the top (``template_override``: task -> samples). Empty answers count as failures (NO_CODE).
Cost: one pass over each stage file plus one bootstrap (2000 resamples) per number.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import numpy as np

from codeeval.pipeline.stages import TaskItems
from codeeval.pipeline.store import RunDir
from codeeval.records import Execution, Extraction, Outcome, Sample, TaskAnalysis, TaskScore
from codeeval.stats.compare import bootstrap_ci
from codeeval.stats.passk import Verdict, aggregate


def _mean_ci(values: list[float], seed: int = 0) -> dict[str, Any]:
    if not values:
        return {"mean": None, "ci": [None, None], "n": 0}
    lo, hi = bootstrap_ci(values, seed=seed)
    return {"mean": float(np.mean(values)), "ci": [lo, hi], "n": len(values)}


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


def sample_outcome(e: Extraction | None, executions: dict[str, Execution], summarization: bool) -> Outcome | None:
    """A sample's outcome: its program's execution, NO_CODE for an answer without code, None for
    summaries (and for a program that has no execution record yet)."""
    if summarization or e is None:
        return None
    if not e.key:
        return Outcome.NO_CODE
    ex = executions.get(e.key)
    return ex.outcome if ex is not None else None


def _quality(analysis: TaskAnalysis, no_code: int) -> dict[str, Any]:
    """The analyzer's summaries as they came, with the samples that had no code to analyse."""
    tool_errors = sum(len(f.tool_errors) for f in analysis.files)
    return {"all": {**analysis.all.to_json(), "no_code": no_code, "tool_errors": tool_errors},
            "passing": analysis.passing.to_json(), "tools": analysis.tools}


def task_results(ti: TaskItems, samples: list[Sample], extractions: dict[tuple[str, str, int], Extraction],
                 executions: dict[str, Execution], analysis: TaskAnalysis | None, score: TaskScore | None,
                 judgements: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    task = ti.task
    n = task.generation.n
    summarization = task.kind == "summarization"
    mine = [s for s in samples if s.task == task.name]
    per_item_n: Counter[str] = Counter(s.item for s in mine)
    instances: dict[str, dict[str, Any]] = {}
    outcomes: Counter[str] = Counter()
    verdicts: list[Verdict] = []
    compiled_checked = compiled_ok = not_run = no_code = 0
    for item in ti.items:
        passed, compiled, infra, sample_outcomes = [], [], 0, []
        for s in range(max(n, per_item_n[item.id])):
            e = extractions.get((task.name, item.id, s))
            if e is None:
                continue
            outcome = sample_outcome(e, executions, summarization)
            if outcome is None:
                continue
            outcomes[outcome.name] += 1
            sample_outcomes.append([s, outcome.name])
            no_code += outcome is Outcome.NO_CODE
            if outcome.infrastructure:
                infra += 1
                not_run += outcome is Outcome.NOT_RUN
                verdicts.append(Verdict(item.id, None, outcome.name))
                continue
            ok = outcome is Outcome.PASSED
            passed.append(ok)
            verdicts.append(Verdict(item.id, ok, outcome.name))
            compiled_checked += 1
            compiled_ok += outcome.compiled
            compiled.append(outcome.compiled)
        inst: dict[str, Any] = {"n": len(passed) if passed else None}
        if not summarization:
            inst.update(c=sum(passed), passed=passed, compiled=compiled, outcomes=sample_outcomes)
            if infra:
                inst["infra_errors"] = infra
        instances[item.id] = inst
    if score:
        per_item: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        for row in score.instances:
            for m, v in row.metrics.items():
                per_item[row.item][m].append(v)
        for item_id, metrics in per_item.items():
            instances.setdefault(item_id, {})["metrics"] = {m: float(np.mean(v)) for m, v in metrics.items()}
    out: dict[str, Any] = {
        "kind": task.kind, "language": task.language, "source_language": task.source_language,
        "items": len(ti.items), "n": n, "samples": len(mine),
        "outcomes": dict(sorted(outcomes.items())), "instances": instances,
    }
    if task.pass_ks:
        agg = aggregate(verdicts, task.pass_ks)
        out["pass_at_k"] = {str(k): {"mean": v.value, "ci": [v.ci_low, v.ci_high], "n": v.tasks}
                            for k, v in agg.scores.items()}
        out["infra_errors"] = agg.infra_errors
        if agg.omitted_k:
            out["omitted_k"] = agg.omitted_k
    if not summarization:
        out["compile"] = {"checked": compiled_checked, "compiled": compiled_ok, "not_run": not_run,
                          "rate": compiled_ok / compiled_checked if compiled_checked else None}
    if "quality" in task.metrics and analysis is not None:
        out["quality"] = _quality(analysis, no_code)
    if score:
        out["metrics"] = {}
        for m in task.score_metrics:
            vals = [v["metrics"][m] for v in instances.values() if m in v.get("metrics", {})]
            out["metrics"][m] = {**_mean_ci(vals), "corpus": score.corpus.get(m)}
        out["leakage"] = score.leakage.to_json() if score.leakage else None
        out["scorer_tools"] = score.tools
    judged = judge_results(task.name, judgements or [], instances)
    if judged:
        out["judge"] = judged
    out["generation"] = {
        "prompt_tokens": sum(g.prompt_tokens for g in mine),
        "completion_tokens": sum(g.completion_tokens for g in mine),
        "truncated": sum(g.finish_reason.name == "LENGTH" for g in mine),
        "templates": sorted({f"{g.template} {g.template_sha256[:12]}" for g in mine if g.origin == "generator"}),
        "seeds": sorted({g.seed for g in mine})[:5],
        "origin": sorted({g.origin for g in mine}),
    }
    overridden = [g for g in mine if g.template_override]
    if overridden:
        out["generation"]["template_override"] = {
            "samples": len(overridden),
            "templates": sorted({f"{g.template} {g.template_sha256[:12]}" for g in overridden})}
    return out


def template_overrides(tasks: dict[str, dict[str, Any]]) -> dict[str, int]:
    """Per task, how many samples were served with another chat template than the adapter was trained
    with (the generator's ``template_override``, issue 16); only tasks with any."""
    return {name: t["generation"]["template_override"]["samples"] for name, t in tasks.items()
            if (t.get("generation") or {}).get("template_override")}


def build_results(run: RunDir, tasks: list[TaskItems]) -> dict[str, Any]:
    samples = run.samples()
    extractions = {e.sample_key: e for e in run.extractions()}
    executions = run.executions()
    analyses = run.analyses()
    scores = run.scores()
    judgements = list(run.store("judge").records())
    receipt = run.read_json("receipt.json") if run.exists("receipt.json") else {}
    per_task = {ti.task.name: task_results(ti, samples, extractions, executions, analyses.get(ti.task.name),
                                           scores.get(ti.task.name), judgements) for ti in tasks}
    out = {
        "schema": "codeeval.pipeline.results/v1",
        "variant": receipt.get("variant"),
        "suite": receipt.get("suite"),
        "receipt": receipt,
        "tasks": per_task,
    }
    overrides = template_overrides(per_task)
    if overrides:
        out["template_override"] = overrides
    return out
