"""Export a finished bench run (a variant folder) in the formats other tools read.

- ``lm-eval``: an lm-evaluation-harness results JSON: ``results`` (per task ``alias``, each metric as
  ``<metric>,none`` with ``<metric>_stderr,none``), ``versions``, ``configs``, ``n-shot``,
  ``higher_is_better``, ``n-samples`` (``original``: items, ``effective``: items scored) and
  ``config``/``date``/``model_name``/``total_evaluation_time_seconds`` (the stages' time, this
  invocation only). Metrics: pass@k (the mean over scored items of the unbiased per-item
  estimate, as ``results.json`` has it), ``compile`` (rate over samples with a verdict),
  the reference metrics (codebleu, bleu, ...: mean over items) and the judge's criteria. The stderr
  is the standard error of that mean (sample standard deviation / sqrt(count)), as lm-eval reports
  for mean aggregations; ``"N/A"`` with a single value.
- ``evalplus``: EvalPlus's ``eval_results.json`` for one executed task: ``eval`` maps each item id to
  its samples ``{task_id, solution, base_status, plus_status, base_fail_tests, plus_fail_tests}``
  (``solution`` is the code the sandbox ran the tests on, the answer as extracted;
  ``base_status`` is ``pass``, ``fail``, ``timeout``, or None for an infrastructure error, which
  EvalPlus also counts as unknown; ``codeeval_outcome`` keeps the exact outcome), and ``pass_at_k``
  ``{"base": {"pass@k": ...}}``. A run with several executed tasks needs ``task``.

Reads ``results.json`` (for the numbers, as the report shows them), ``receipt.json``, ``suite.yaml``
and the stage files through :class:`~codeeval.pipeline.store.RunDir`. A path that is not a finished
run folder, a bench output folder with several variants, an unknown format or task is an
:class:`ExportError` naming it. Cost: one pass over the stage files.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

from codeeval.kit.errors import FailedPrecondition, InvalidArgument
from codeeval.kit.names import did_you_mean
from codeeval.pipeline.results import sample_outcome
from codeeval.pipeline.store import RunDir
from codeeval.records import Outcome
from codeeval.stats.passk import pass_at_k

FORMATS = ("lm-eval", "evalplus")
RESULTS_SCHEMA = "codeeval.pipeline.results/v1"
_JUDGE = ("content_adequacy", "conciseness", "fluency")


class ExportError(FailedPrecondition):
    """The run folder cannot be exported (not a run, not finished, ambiguous); the message names it."""


class ExportArgumentError(InvalidArgument):
    """An unknown format or task; the message names the choices."""


def open_run(path: Path) -> tuple[RunDir, dict[str, Any]]:
    """The run folder and its ``results.json``; ExportError naming what is missing, and the variants
    when ``path`` is a bench output folder."""
    if not path.is_dir():
        raise ExportError(f"{path}: no such run folder", field="run")
    results_file = path / "results.json"
    if not results_file.is_file():
        variants = sorted(p.name for p in path.iterdir() if (p / "results.json").is_file())
        if variants:
            raise ExportError(f"{path} is a bench output folder with variants {', '.join(variants)}: export one "
                              f"of them ({path / variants[0]})", field="run")
        what = "an unfinished run (no results.json yet: rerun the bench to finish it)" \
            if (path / "receipt.json").is_file() else "not a codeeval run folder (no results.json, no receipt.json)"
        raise ExportError(f"{path}: {what}", field="run")
    try:
        results = json.loads(results_file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ExportError(f"{results_file}:{exc.lineno}: not JSON: {exc.msg}", field="run") from None
    if not isinstance(results, dict) or results.get("schema") != RESULTS_SCHEMA:
        raise ExportError(f"{results_file} is not a codeeval bench results file (schema {RESULTS_SCHEMA})",
                          field="run")
    return RunDir(path), results


def _stderr(values: list[float]) -> float | str:
    if len(values) < 2:
        return "N/A"
    mean = sum(values) / len(values)
    var = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
    return math.sqrt(var / len(values))


def _task_metrics(task: dict[str, Any]) -> dict[str, list[float]]:
    """Per metric, the per-item (per-sample for compile) values behind the task's means."""
    instances: dict[str, dict[str, Any]] = task.get("instances", {})
    out: dict[str, list[float]] = {}
    for k in sorted(task.get("pass_at_k", {}), key=int):
        out[f"pass@{k}"] = [pass_at_k(i["n"], i["c"], int(k)) for i in instances.values()
                            if i.get("n") and i["n"] >= int(k)]
    if "compile" in task and task["compile"].get("checked"):
        out["compile"] = [float(c) for i in instances.values() for c in i.get("compiled", [])]
    names = [*task.get("metrics", {}), *[f"judge_{c}" for c in _JUDGE if c in task.get("judge", {})]]
    for m in names:
        out[m] = [float(i["metrics"][m]) for i in instances.values() if m in i.get("metrics", {})]
    return {m: v for m, v in out.items() if v}


def _suite_tasks(run: RunDir) -> dict[str, dict[str, Any]]:
    if not run.exists("suite.yaml"):
        return {}
    from codeeval.suites import load_suite

    return {t.name: t.model_dump() for t in load_suite(run.path / "suite.yaml").suite.tasks}


def lm_eval(run: RunDir, results: dict[str, Any]) -> dict[str, Any]:
    """The lm-evaluation-harness results JSON of the run (see the module docstring)."""
    receipt: dict[str, Any] = results.get("receipt") or {}
    suite = results.get("suite") or receipt.get("suite") or {}
    model = receipt.get("model") or {}
    adapter = receipt.get("adapter") or {}
    tasks_cfg = _suite_tasks(run)
    out: dict[str, Any] = {"results": {}, "groups": {}, "group_subtasks": {}, "configs": {}, "versions": {},
                           "n-shot": {}, "higher_is_better": {}, "n-samples": {}}
    for name, task in results.get("tasks", {}).items():
        metrics = _task_metrics(task)
        row: dict[str, Any] = {"alias": name}
        for m, values in metrics.items():
            row[f"{m},none"] = sum(values) / len(values)
            row[f"{m}_stderr,none"] = _stderr(values)
        out["results"][name] = row
        out["group_subtasks"][name] = []
        cfg = tasks_cfg.get(name, {})
        gen = cfg.get("generation", {})
        out["configs"][name] = {
            "task": name, "tag": [task.get("kind")], "dataset_path": cfg.get("path"), "dataset_kwargs": {
                "reader": cfg.get("reader"), **(cfg.get("options") or {})},
            "output_type": "generate_until", "num_fewshot": 0, "repeats": task.get("n", 1),
            "generation_kwargs": {"max_gen_toks": gen.get("max_tokens"), "temperature": gen.get("temperature"),
                                  "top_p": gen.get("top_p"), "until": gen.get("stop", []), "seed": gen.get("seed"),
                                  "do_sample": bool(gen.get("temperature"))},
            "metric_list": [{"metric": m, "aggregation": "mean", "higher_is_better": True} for m in metrics],
            "metadata": {"version": suite.get("version"), "suite": suite.get("name"), "task_prompt":
                         cfg.get("task_prompt"), "language": task.get("language")},
        }
        out["versions"][name] = suite.get("version")
        out["n-shot"][name] = 0
        out["higher_is_better"][name] = dict.fromkeys(metrics, True)
        scored = [i for i in task.get("instances", {}).values() if i.get("n") or i.get("metrics")]
        out["n-samples"][name] = {"original": task.get("items", 0), "effective": len(scored)}
    model_name = model.get("base_model") or model.get("requested") or model.get("name") or ""
    out["config"] = {"model": "codeeval", "model_args": {"model": model_name, "adapter": adapter.get("name"),
                                                         "variant": results.get("variant")},
                     "batch_size": None, "limit": suite.get("limit"), "bootstrap_iters": 0,
                     "random_seed": None, "gen_kwargs": None}
    out["model_name"] = model_name
    out["date"] = (run.path / "results.json").stat().st_mtime
    out["git_hash"] = (receipt.get("codeeval") or {}).get("git_commit")
    timings = results.get("timings") or {}
    out["total_evaluation_time_seconds"] = str(round(sum(float(v) for v in timings.values()), 3))
    out["codeeval"] = {"variant": results.get("variant"), "suite": suite, "run": str(run.path)}
    return out


def _status(outcome: Outcome | None) -> str | None:
    if outcome is Outcome.PASSED:
        return "pass"
    if outcome is Outcome.TIMEOUT:
        return "timeout"
    if outcome is None or outcome.infrastructure:
        return None
    return "fail"


def evalplus(run: RunDir, results: dict[str, Any], task: str | None = None) -> dict[str, Any]:
    """EvalPlus's eval_results.json for one executed task of the run (see the module docstring)."""
    executed = [n for n, t in results.get("tasks", {}).items() if "pass_at_k" in t]
    if task is None:
        if len(executed) != 1:
            raise ExportArgumentError(f"{run.path}: the evalplus format holds one task; the run has "
                                      f"{len(executed)} with tests ({', '.join(executed) or 'none'}): "
                                      "choose one with --task", field="task")
        task = executed[0]
    elif task not in executed:
        raise ExportArgumentError(f"{run.path}: no executed task {task!r}{did_you_mean(task, executed)} "
                                  f"(executed: {', '.join(executed) or 'none'})", field="task")
    executions = run.executions()
    evals: dict[str, list[dict[str, Any]]] = {}
    for e in sorted((e for e in run.extractions() if e.task == task), key=lambda e: (e.item, e.sample)):
        outcome = sample_outcome(e, executions, False)
        evals.setdefault(e.item, []).append({
            "task_id": e.item, "solution": e.answer, "base_status": _status(outcome), "plus_status": None,
            "base_fail_tests": [], "plus_fail_tests": [],
            "codeeval_outcome": outcome.name if outcome is not None else None, "sample": e.sample})
    passk = results["tasks"][task]["pass_at_k"]
    suite = results.get("suite") or {}
    return {"date": dt.datetime.fromtimestamp((run.path / "results.json").stat().st_mtime).strftime("%Y-%m-%d %H:%M"),
            "hash": suite.get("sha256"), "eval": evals,
            "pass_at_k": {"base": {f"pass@{k}": v["mean"] for k, v in passk.items()}},
            "codeeval": {"task": task, "variant": results.get("variant"), "suite": suite}}


def export(path: Path, fmt: str, task: str | None = None) -> dict[str, Any]:
    """The run at ``path`` in format ``fmt`` (one of :data:`FORMATS`)."""
    if fmt not in FORMATS:
        raise ExportArgumentError(f"unknown format {fmt!r}{did_you_mean(fmt, FORMATS)} (formats: "
                                  f"{', '.join(FORMATS)})", field="format")
    run, results = open_run(path)
    return lm_eval(run, results) if fmt == "lm-eval" else evalplus(run, results, task)
