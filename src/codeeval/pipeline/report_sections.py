"""The report's sections that answer "ship or not": headline, gate details, power, flipped items,
outcomes and truncations, costs. Each returns a :class:`~codeeval.pipeline.report_html.Section`.

The headline and the gate details come from the pairs' gates (:mod:`codeeval.pipeline.report_gate`),
so they say what ``codeeval compare`` and ``bench --baseline`` exit with. n is beside every number:
paired items for the gate, items for power, scored samples for outcomes. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from codeeval.pipeline import report_costs as costs
from codeeval.pipeline.report_flips import StageFiles, flips
from codeeval.pipeline.report_gate import LABELS, Pair, overall_reason, override_notes, task_headlines
from codeeval.pipeline.report_html import Section, banner, flips_section, table
from codeeval.stats.gate import Verdict
from codeeval.stats.power import POWER, TARGET_DROP

GATE_HEADERS = ["task", "metric", "n items", "baseline", "candidate", "diff", "one-sided interval", "margin",
                "effect (rank-biserial)", "verdict", "reason"]
POWER_HEADERS = ["task", "metric", "kind", "n items", "margin", "confidence (after Bonferroni)",
                 f"smallest detectable drop ({POWER:.0%} power)", "gating", "assumption"]


def _num(v: float | None, sign: bool = False) -> str:
    return "-" if v is None else f"{v:+.3f}" if sign else f"{v:.3f}"


def headline_section(results: Mapping[str, Mapping[str, Any]], pairs: Sequence[Pair],
                     notes: Mapping[str, str] | None = None) -> Section:
    """Per pair: the overall verdict with its reason, then one row per task (verdict, reason, n items);
    template overrides (issue 16) first; ``notes`` by task (e.g. the contamination view's) beside them."""
    md, html = [], []
    for line in override_notes(results):
        md.append(f"> **{line}**\n")
        html.append(f"<p class='override'>{escape(line)}</p>")
    if not pairs:
        text = ("one variant and no --baseline. Benchmark an adapter beside the base model (--adapter) or give "
                "a previous run (--baseline); the power section says what such a gate could detect with this "
                "run as the baseline")
        m, h = banner("nothing to compare", text)
        md.append(m)
        html.append(h)
    for p in pairs:
        tasks = [t for t in p.b["tasks"] if t in p.a["tasks"]]
        heads = task_headlines(p.gate, tasks)
        label = LABELS[Verdict(p.gate["verdict"])]
        m, h = banner(label, f"{p.label_b} vs {p.label_a}: {overall_reason(p.gate, heads)}")
        headers = ["task", "verdict", "reason", "n items"] + (["notes"] if notes else [])
        rows = [[x.task, x.label, x.reason, str(x.n) if x.n else "-"] + ([notes.get(x.task, "")] if notes else [])
                for x in heads]
        tm, th = table(headers, rows)
        md += [m, tm]
        html += [h, th]
    return Section("Headline", "\n".join(md), "".join(html))


def gate_section(pairs: Sequence[Pair]) -> Section:
    """Per pair, every gating metric: n, both means, the difference, its interval, margin, effect, verdict."""
    md, html = [], []
    for p in pairs:
        g = p.gate
        title = (f"{p.label_b} vs {p.label_a} (candidate - baseline; one-sided bounds at {g['confidence']:g} "
                 "confidence over the gate)")
        rows = [[r["task"], r["metric"], str(r["n"]), _num(r["baseline"]), _num(r["candidate"]),
                 _num(r["diff"], True), "no interval" if r["low"] is None or r["high"] is None else
                 f"[{r['low']:+.3f}, {r['high']:+.3f}]", f"{r['margin']:g}", f"{r['effect']:+.2f}",
                 LABELS[Verdict(r["verdict"])], r["reason"]] for r in g["results"]]
        none = f"No metric gates: none can detect a {TARGET_DROP:g} drop on these items (see Power)."
        tm, th = table(GATE_HEADERS, rows) if rows else (none + "\n", f"<p>{escape(none)}</p>")
        md += [f"### {title}\n", tm]
        html += [f"<h3>{escape(title)}</h3>", th]
    return Section("Gate", "\n".join(md), "".join(html))


def power_rows(gate: Mapping[str, Any]) -> list[list[str]]:
    return [[p["task"], p["metric"], p["kind"], str(p["items"]), f"{p['margin']:g}", f"{p['confidence']:.4f}",
             "out of range (never at 80% power)" if p["detectable_drop"] is None else f"{p['detectable_drop']:.3f}",
             "gating" if p["gating"] else "NOT GATING", p["assumption"]]
            for p in sorted(gate["power"], key=lambda p: not p["gating"])]  # the gating metrics first


def power_section(gates: Sequence[tuple[str, Mapping[str, Any]]]) -> Section:
    """Per gate (title, gate dict): the detectable drop of every metric with a margin, and the warnings
    (a metric that can never fire, a gate with no gating metric)."""
    intro = (f"A metric gates when it can detect a {TARGET_DROP:g} drop with {POWER:.0%} power; only gating "
             "metrics decide the verdict and share the confidence (Bonferroni).")
    md, html = [intro + "\n"], [f"<p>{escape(intro)}</p>"]
    for title, gate in gates:
        tm, th = table(POWER_HEADERS, power_rows(gate)) if gate["power"] else ("No metric has a margin.\n",
                                                                             "<p>No metric has a margin.</p>")
        md += [f"### {title}\n", *[f"> warning: {w}\n" for w in gate["warnings"]], tm]
        warns = "".join(f"<li>{escape(w)}</li>" for w in gate["warnings"])
        html += [f"<h3>{escape(title)}</h3>", f"<p class='warn'>warnings:</p><ul class='warn'>{warns}</ul>" if warns
                 else "", th]
    return Section("Power", "\n".join(md), "".join(html))


def flipped_section(pairs: Sequence[Pair], files: Mapping[str, StageFiles]) -> Section:
    """The flipped items of every pair; ``files`` by run-folder string (see :func:`pair_files`)."""
    groups = [(p.label_a, p.label_b, flips(p.a, p.b, files[str(p.run_a)], files[str(p.run_b)])) for p in pairs]
    md, html = flips_section(groups) if groups else ("Nothing to compare.\n", "<p>Nothing to compare.</p>")
    return Section("Flipped items", md, html)


def outcomes_section(results: Mapping[str, Mapping[str, Any]]) -> Section:
    note = ("n counts the scored samples; SANDBOX_ERROR and NOT_RUN are infrastructure (the run says nothing "
            "about the model) and are left out of n and of pass@k. Truncated: generations that stopped at "
            "max_tokens, of all samples.")
    tm, th = table(costs.outcome_headers(results), costs.outcome_rows(results))
    return Section("Outcomes and truncations", f"{note}\n\n{tm}", f"<p>{escape(note)}</p>{th}")


def costs_section(results: Mapping[str, Mapping[str, Any]], files: Mapping[str, StageFiles]) -> Section:
    note = ("Wall seconds per stage (summed over resumed runs); tokens/s: completion tokens per second of the "
            "generate stage; peak memory: of the largest program the sandbox ran (the generator reports none); "
            "adapter load: as the generator timed it; accelerator-seconds: no service reports an accelerator, so "
            "none are recorded.")
    tm, th = table(costs.cost_headers(results), costs.cost_rows(results, files))
    return Section("Costs", f"{note}\n\n{tm}", f"<p>{escape(note)}</p>{th}")
