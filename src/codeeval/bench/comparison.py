"""Compare two runs' ``results.json`` item by item (``codeeval compare`` and the bench report).

Per task, over the items both runs have: pass@1 with one sample per item -> exact McNemar, else the
per-item pass fraction -> Wilcoxon; compile success (one sample) -> McNemar; each reference metric
-> Wilcoxon with Cliff's delta. Every difference is B - A with a bootstrap CI; p-values are
Holm-adjusted over the whole comparison. A regression is a significant drop.
"""

from __future__ import annotations

import json
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
    data = json.loads(target.read_text(encoding="utf-8"))
    if data.get("schema") != "codeeval.bench.results/v1":
        raise ResultsError(f"{target} is not a codeeval bench results file")
    return data


def _single(inst: dict[str, Any], key: str) -> bool | None:
    values = inst.get(key) or []
    return bool(values[0]) if len(values) == 1 else None


def task_tests(task: str, ta: dict[str, Any], tb: dict[str, Any]) -> list[PairedTest]:
    ia, ib = ta.get("instances", {}), tb.get("instances", {})
    common = sorted(set(ia) & set(ib))
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
                    label_b: str = "B") -> dict[str, Any]:
    tasks = sorted(set(a["tasks"]) & set(b["tasks"]))
    tests: list[PairedTest] = []
    for task in tasks:
        tests += task_tests(task, a["tasks"][task], b["tasks"][task])
    tests = with_holm(tests)
    suite_a, suite_b = (a.get("suite") or {}), (b.get("suite") or {})
    warnings = []
    if suite_a.get("sha256") != suite_b.get("sha256"):
        warnings.append(f"the runs used different suites ({suite_a.get('name')} {suite_a.get('version')} "
                        f"vs {suite_b.get('name')} {suite_b.get('version')}); only shared items are paired")
    only = sorted(set(a["tasks"]) ^ set(b["tasks"]))
    if only:
        warnings.append(f"tasks in one run only (not compared): {', '.join(only)}")
    return {
        "a": label_a, "b": label_b, "alpha": alpha, "warnings": warnings,
        "tests": [{**asdict(t), "significant": t.significant(alpha), "regression": t.regression(alpha)}
                  for t in tests],
        "regressions": [f"{t.task} {t.metric}" for t in tests if t.regression(alpha)],
        "improvements": [f"{t.task} {t.metric}" for t in tests if t.significant(alpha) and t.diff > 0],
    }
