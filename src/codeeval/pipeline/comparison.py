"""Compare two runs' ``results.json`` item by item: the CI gate (``codeeval compare``, ``bench --baseline``)
and the Holm-corrected tests of the bench report.

:func:`gate_results` runs the non-inferiority gate of :mod:`codeeval.stats.power` (margins per metric,
a verdict per gating metric, the power of every metric with a margin) and returns it as a JSON-able dict.
The report's tests (:func:`compare_results`): per task, over the items both runs have: pass@1 with
one sample per item -> exact McNemar, else the per-item pass fraction -> Wilcoxon; compile success
(one sample) -> McNemar; each reference metric -> Wilcoxon with Cliff's delta. Every difference is
B - A with a bootstrap CI; p-values are Holm-adjusted over the whole comparison. A regression is a
significant drop. ``items`` restricts a comparison to given item ids per task (the clean subset of a
contamination check): its tests are Holm-adjusted among themselves, a family of their own that the
CI gate never sees.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from codeeval.stats.compare import PairedTest, paired_binary, paired_continuous, with_holm


class ResultsError(ValueError):
    pass


def load_results(path: Path) -> dict[str, Any]:
    """``results.json`` from a run directory (a variant folder) or the file itself."""
    target = path / "results.json" if path.is_dir() else path
    if not target.is_file():
        hint = ""
        if path.is_dir():
            subs = sorted(p.name for p in path.iterdir() if (p / "results.json").is_file())
            hint = f"; this looks like a bench output folder, pick a variant: {', '.join(subs)}" if subs else ""
        raise ResultsError(f"{target} does not exist{hint}")
    try:
        data = json.loads(target.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ResultsError(f"{target} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("schema") != "codeeval.pipeline.results/v1":
        raise ResultsError(f"{target} is not a codeeval bench results file")
    problem = _shape_problem(data)
    if problem:
        raise ResultsError(f"{target} is malformed: {problem}")
    return data


def _shape_problem(data: Mapping[str, Any]) -> str | None:
    """The first field the comparison reads that has the wrong shape (``tasks.T.instances.I.metrics.M``)."""
    tasks = data.get("tasks")
    if not isinstance(tasks, dict):
        return "tasks must be an object"
    for task, body in tasks.items():
        instances = body.get("instances", {}) if isinstance(body, dict) else None
        if not isinstance(instances, dict):
            return f"tasks.{task}.instances must be an object"
        for item, inst in instances.items():
            where = f"tasks.{task}.instances.{item}"
            if not isinstance(inst, dict):
                return f"{where} must be an object"
            for key in ("n", "c"):
                if inst.get(key) is not None and not _is_number(inst[key]):
                    return f"{where}.{key} must be a number or null"
            for key in ("passed", "compiled"):
                if inst.get(key) is not None and not isinstance(inst[key], list):
                    return f"{where}.{key} must be a list"
            metrics = inst.get("metrics") or {}
            if not isinstance(metrics, dict):
                return f"{where}.metrics must be an object"
            for metric, value in metrics.items():
                if not _is_number(value) or not math.isfinite(value):
                    return f"{where}.metrics.{metric} must be a finite number, got {value!r}"
    return None


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _single(inst: dict[str, Any], key: str) -> bool | None:
    values = inst.get(key) or []
    return bool(values[0]) if len(values) == 1 else None


def task_tests(task: str, ta: dict[str, Any], tb: dict[str, Any],
               items: Collection[str] | None = None) -> list[PairedTest]:
    """The paired tests of one task over the items both runs have (and, given ``items``, only those)."""
    ia, ib = ta.get("instances", {}), tb.get("instances", {})
    common = sorted(set(ia) & set(ib) & (set(items) if items is not None else set(ia)))
    tests: list[PairedTest] = []
    if "pass_at_k" in ta and "pass_at_k" in tb:
        rows = [(ia[i], ib[i]) for i in common if ia[i].get("n") and ib[i].get("n")]
        singles = [(_single(x, "passed"), _single(y, "passed")) for x, y in rows]
        if rows and all(a is not None and b is not None for a, b in singles):
            tests.append(paired_binary(task, "pass@1", [bool(a) for a, _ in singles], [bool(b) for _, b in singles]))
        elif rows:
            tests.append(paired_continuous(task, "pass_rate", [x["c"] / x["n"] for x, _ in rows],
                                           [y["c"] / y["n"] for _, y in rows]))
    if "compile" in ta and "compile" in tb:
        pairs = [(_single(ia[i], "compiled"), _single(ib[i], "compiled")) for i in common]
        pairs = [(a, b) for a, b in pairs if a is not None and b is not None]
        if pairs:
            tests.append(paired_binary(task, "compile", [bool(a) for a, _ in pairs], [bool(b) for _, b in pairs]))
    judged = [f"judge_{c}" for c in ("content_adequacy", "conciseness", "fluency")
              if "judge" in ta and "judge" in tb]
    for metric in sorted(set(ta.get("metrics", {})) & set(tb.get("metrics", {}))) + judged:
        rows2 = [(ia[i]["metrics"][metric], ib[i]["metrics"][metric]) for i in common
                 if metric in ia[i].get("metrics", {}) and metric in ib[i].get("metrics", {})]
        if rows2:
            tests.append(paired_continuous(task, metric, [a for a, _ in rows2], [b for _, b in rows2]))
    return tests


def compare_results(a: dict[str, Any], b: dict[str, Any], *, alpha: float = 0.05, label_a: str = "A",
                    label_b: str = "B", items: Mapping[str, Collection[str]] | None = None) -> dict[str, Any]:
    """The report's tests of B against A (module docstring). With ``items`` (task -> item ids), only
    the tasks it names are compared, each over those of its ids both runs have; the Holm correction
    then runs over these tests alone. Without it (the default), every shared task and item."""
    tasks = sorted(set(a["tasks"]) & set(b["tasks"]) & (set(items) if items is not None else set(a["tasks"])))
    tests: list[PairedTest] = []
    for task in tasks:
        tests += task_tests(task, a["tasks"][task], b["tasks"][task], items[task] if items is not None else None)
    tests = with_holm(tests)
    return {
        "a": label_a, "b": label_b, "alpha": alpha, "warnings": run_warnings(a, b),
        "tests": [{**asdict(t), "significant": t.significant(alpha), "regression": t.regression(alpha)}
                  for t in tests],
        "regressions": [f"{t.task} {t.metric}" for t in tests if t.regression(alpha)],
        "improvements": [f"{t.task} {t.metric}" for t in tests if t.significant(alpha) and t.diff > 0],
    }


def run_warnings(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """What limits the pairing of two runs: different suites, tasks in one run only."""
    suite_a, suite_b = (a.get("suite") or {}), (b.get("suite") or {})
    warnings = []
    if suite_a.get("sha256") != suite_b.get("sha256"):
        warnings.append(f"the runs used different suites ({suite_a.get('name')} {suite_a.get('version')} "
                        f"vs {suite_b.get('name')} {suite_b.get('version')}); only shared items are paired")
    only = sorted(set(a["tasks"]) ^ set(b["tasks"]))
    if only:
        warnings.append(f"tasks in one run only (not compared): {', '.join(only)}")
    return warnings


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: ``None`` stands for them."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def load_history(baseline: Path, *, exclude: Collection[Path] = ()) -> list[dict[str, Any]]:
    """The baseline's whole run, for the gate's plan: the variant at ``baseline`` (its folder or its
    results.json) first, then the other variants of the same bench output folder that ran the same suite
    (same name and sha256), in name order. The discordance measured between them (for example base and
    the last accepted adapter) is what the plan assumes a candidate's change looks like; with one variant
    the plan assumes independent runs at the baseline's pass rate (the worst case). ``exclude``: the
    candidate's folders (a candidate never plans its own gate). Unreadable siblings are skipped: they
    are context, the baseline itself is loaded strictly. Cost: one read per variant.
    """
    first = load_results(baseline)
    folder = baseline if baseline.is_dir() else baseline.parent
    skip = {folder.resolve(), *((p if p.is_dir() else p.parent).resolve() for p in exclude)}
    runs = [first]
    for sibling in sorted(p for p in folder.parent.iterdir() if p.is_dir() and p.resolve() not in skip):
        if not (sibling / "results.json").is_file():
            continue
        try:
            other = load_results(sibling)
        except ResultsError:
            continue
        if _suite_key(other) == _suite_key(first):
            runs.append(other)
    return runs


def _suite_key(results: Mapping[str, Any]) -> tuple[Any, Any]:
    suite = results.get("suite") or {}
    return (suite.get("name"), suite.get("sha256")) if isinstance(suite, dict) else (None, None)


def gate_results(baseline: Mapping[str, Any], candidate: Mapping[str, Any], *, margins: Mapping[str, float],
                 confidence: float = 0.95, label_a: str = "baseline", label_b: str = "candidate",
                 history: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """The CI gate of ``candidate`` against ``baseline`` (:func:`codeeval.stats.power.evaluate`) as a dict.

    ``margins`` by metric (``--max-drop``; empty: the default metrics and margin); ``confidence`` is
    the family-wise one-sided level, in (0.5, 1), else ValueError naming ``--confidence``. Keys:
    ``verdict`` (a :class:`~codeeval.stats.gate.Verdict` value), ``results`` (one per gating metric),
    ``power`` (every metric with a margin, ``detectable_drop`` None when out of range), ``warnings``,
    ``history`` (how many runs of the baseline the plan's spreads came from). ``history``: the
    baseline's run with its other variants (:func:`load_history`), never the candidate; empty: the
    baseline alone. Cost: one bootstrap per continuous gating metric (about a second at most).
    """
    from codeeval.stats.power import evaluate

    if not 0.5 < confidence < 1.0:
        raise ValueError(f"--confidence must be in (0.5, 1), got {confidence}")
    report = evaluate(baseline, candidate, margins=margins, history=history, alpha=1.0 - confidence)
    return {
        "schema": "codeeval.gate/v1", "a": label_a, "b": label_b, "confidence": confidence,
        "margins": dict(margins), "verdict": report.verdict.value, "history": max(1, len(history)),
        "results": [{k: _finite(v) for k, v in {**asdict(r), "verdict": r.verdict.value}.items()}
                    for r in report.results],
        "power": [{k: _finite(v) for k, v in asdict(r).items()} for r in report.rows],
        "warnings": run_warnings(baseline, candidate) + report.warnings,
    }
