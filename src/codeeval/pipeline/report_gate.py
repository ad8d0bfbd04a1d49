"""The report's answer to "ship or not": the gate of one side against another, per task and overall.

Every pair the report shows (an adapter against base inside one bench run, every variant against
``--baseline``, the candidate against the baseline of ``codeeval compare``) is decided by
:func:`codeeval.pipeline.comparison.gate_results`, the function ``codeeval compare`` and
``bench --baseline`` take their exit codes from, with the same margins and confidence: the report
and the exit code cannot disagree.

A task's headline is the gate's overall rule applied to its gating metrics (any regression, else
any inconclusive, else improved if any improved, else no change). A task with no gating metric is
inconclusive, and the reason says why (its metrics cannot detect the target drop, can never fire,
or have no margin). Pure: no I/O. Cost: one gate per pair (a bootstrap per continuous gating metric).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codeeval.pipeline.comparison import gate_results
from codeeval.stats.gate import DEFAULT_MARGIN, GateResult, Verdict, overall
from codeeval.stats.power import TARGET_DROP

#: The headline's words for the gate's verdicts.
LABELS = {Verdict.IMPROVED: "improved", Verdict.NO_REGRESSION: "no change", Verdict.REGRESSION: "regressed",
          Verdict.INCONCLUSIVE: "inconclusive"}


@dataclass
class Pair:
    """Two sides the report compares: ``b`` (candidate) against ``a`` (baseline). ``run_a``/``run_b`` are
    the variant folders holding the stage files (None when only a results.json is at hand)."""

    label_a: str
    label_b: str
    a: Mapping[str, Any]
    b: Mapping[str, Any]
    run_a: Path | None = None
    run_b: Path | None = None
    gate: dict[str, Any] = field(default_factory=dict)
    #: the baseline side's whole run (``a`` and its other variants), for the gate's plan
    history: Sequence[Mapping[str, Any]] = ()


@dataclass(frozen=True)
class TaskHeadline:
    task: str
    verdict: Verdict
    reason: str
    n: int  # paired items of the task's gating metrics (largest), 0 when none

    @property
    def label(self) -> str:
        return LABELS[self.verdict]


def gate_pair(pair: Pair, *, margins: Mapping[str, float], confidence: float) -> Pair:
    """Fill ``pair.gate`` with the gate's dict (see :func:`gate_results`); returns the pair."""
    pair.gate = gate_results(pair.a, pair.b, margins=margins, confidence=confidence, label_a=pair.label_a,
                             label_b=pair.label_b, history=pair.history)
    return pair


def _result(r: Mapping[str, Any]) -> GateResult:
    nan = float("nan")
    return GateResult(**{**r, "verdict": Verdict(r["verdict"]),
                         **{k: nan for k in ("baseline", "candidate", "diff", "low", "high") if r[k] is None}})


def _metric_reason(r: Mapping[str, Any]) -> str:
    return f"{r['metric']} {r['reason']} (n {r['n']})"


def _no_gate_reason(task: str, gate: Mapping[str, Any]) -> str:
    rows = [p for p in gate["power"] if p["task"] == task]
    if not rows:
        margins = gate.get("margins") or {}
        named = ", ".join(sorted(margins)) if margins else f"pass@1, compile, codebleu, chrf at {DEFAULT_MARGIN:g}"
        return f"not gated: none of its metrics has a margin (gated: {named})"
    parts = []
    for p in rows:
        if not p["can_fire"]:
            parts.append(f"{p['metric']} can never fire with {p['items']} items")
        else:
            drop = ("cannot detect any drop" if p["detectable_drop"] is None else
                    f"detects only a {p['detectable_drop']:.2f} drop")
            parts.append(f"{p['metric']} {drop} at 80% power with {p['items']} items")
    return f"not gating (a gating metric must detect a {TARGET_DROP:g} drop): " + "; ".join(parts)


def task_headlines(gate: Mapping[str, Any], tasks: list[str]) -> list[TaskHeadline]:
    """One headline per task, in ``tasks`` order (see the module docstring)."""
    out = []
    for task in tasks:
        mine = [r for r in gate["results"] if r["task"] == task]
        if not mine:
            out.append(TaskHeadline(task, Verdict.INCONCLUSIVE, _no_gate_reason(task, gate), 0))
            continue
        verdict = overall(_result(r) for r in mine)
        deciding = [r for r in mine if Verdict(r["verdict"]) is verdict]
        out.append(TaskHeadline(task, verdict, "; ".join(_metric_reason(r) for r in deciding),
                                max(r["n"] for r in mine)))
    return out


def overall_reason(gate: Mapping[str, Any], heads: list[TaskHeadline]) -> str:
    """Why the overall verdict is what it is: the tasks that decided it, or why nothing could."""
    verdict = Verdict(gate["verdict"])
    if not gate["results"]:
        return "no gated metric can detect the drop the gate is for; see the power section"
    decided = [h.task for h in heads if h.verdict is verdict and h.n]
    counts = {label: sum(h.label == label for h in heads) for label in LABELS.values()}
    tally = ", ".join(f"{n} {label}" for label, n in counts.items() if n)
    return f"decided by {', '.join(decided) or 'no task'} ({tally} of {len(heads)} tasks)"


def override_notes(results: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Issue 16: one line per variant with samples served with another chat template than the adapter
    was trained with, naming the served templates (with hashes) and the adapter's."""
    notes = []
    for variant, res in results.items():
        counts = res.get("template_override") or {}
        if not counts:
            continue
        served = sorted({t for task in counts for t in
                         res["tasks"][task]["generation"]["template_override"].get("templates", [])})
        adapter = (res.get("receipt") or {}).get("adapter") or {}
        trained = f"{adapter.get('template') or 'unknown'} {str(adapter.get('template_sha256') or '')[:12]}".strip()
        per_task = ", ".join(f"{t} {n}/{res['tasks'][t].get('samples', n)}" for t, n in counts.items())
        notes.append(f"{variant}: TEMPLATE OVERRIDE: {sum(counts.values())} samples were served with another chat "
                     f"template ({', '.join(served) or 'unknown'}) than the adapter was trained with ({trained}); "
                     f"its scores do not measure the adapter as trained ({per_task})")
    return notes
