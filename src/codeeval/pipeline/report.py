"""Reports of a bench output folder (``comparison.json``, ``report.md`` and a self-contained
``report.html``: inline SVG plots, inline CSS, no script, no external resources) and of
``codeeval compare`` (the same report for its one pair).

The report answers "ship or not": a headline per task and overall from the very gate ``codeeval
compare`` and ``bench --baseline`` exit with (:mod:`codeeval.pipeline.report_gate`), the gate's
intervals, its power, the items that flipped with both sides' code and stderr, outcomes and
truncations, costs, then the detailed results, the descriptive Holm-corrected tests, plots and the
receipt. Other views add sections in :func:`extra_sections`.

The same row builders feed the Markdown, the HTML and the console tables, so the three never
disagree. Summarization leakage is a column next to the summarization scores; static-quality issue
counts always come with the analysable rate and are per KLOC of analysable code.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from html import escape
from pathlib import Path
from typing import Any

from codeeval.pipeline import contamination_view, plots
from codeeval.pipeline.comparison import compare_results, gate_results, load_history, load_results
from codeeval.pipeline.report_flips import StageFiles, stage_files
from codeeval.pipeline.report_gate import Pair, gate_pair, override_notes
from codeeval.pipeline.report_html import Section, page, table
from codeeval.pipeline.report_sections import (
    costs_section,
    flipped_section,
    gate_section,
    headline_section,
    outcomes_section,
    power_section,
)
from codeeval.stats.power import paired_values

SUMMARY_HEADERS = ["task", "variant", "n", "pass@k [95% CI]", "compiles", "metrics (mean [95% CI])", "leakage",
                   "analysable", "issues/KLOC", "tokens out"]
COMPARISON_HEADERS = ["task", "metric", "n items", "A", "B", "B-A [95% CI]", "test", "p", "p (Holm)", "effect",
                      "result"]


def _f(v: Any, digits: int = 3) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"


def _ci(stat: dict[str, Any]) -> str:
    lo, hi = stat.get("ci") or [None, None]
    return f"{_f(stat.get('mean'))} [{_f(lo)}, {_f(hi)}]"


def summary_rows(results: dict[str, dict[str, Any]]) -> list[list[str]]:
    rows = []
    tasks = list(next(iter(results.values()))["tasks"]) if results else []
    for task in tasks:
        for variant, res in results.items():
            t = res["tasks"].get(task)
            if t is None:
                continue
            passk = "; ".join(f"pass@{k} {_ci(s)} n {s.get('n', '-')}" for k, s in t.get("pass_at_k", {}).items())
            passk = passk or "-"
            comp = t.get("compile")
            compiles = "-" if not comp else (f"{_f(comp['rate'], 2)} ({comp['compiled']}/{comp['checked']})"
                                             + (f", {comp['not_run']} not run" if comp["not_run"] else ""))
            metrics = "; ".join(f"{m} {_ci(s)} n {s.get('n', '-')}" for m, s in t.get("metrics", {}).items()) or "-"
            if t.get("judge"):
                j = t["judge"]
                metrics += "; judge " + ", ".join(f"{c} {_ci(j[c])}" for c in ("content_adequacy", "conciseness",
                                                                                "fluency"))
                metrics += f" ({j['unparsable']}/{j['judgements']} unparsable)"
            leak = t.get("leakage")
            leakage = (f"{leak['verbatim']}/{leak['instances']} verbatim, overlap {_f(leak['mean_overlap'], 2)}"
                       if leak else "-")
            q = (t.get("quality") or {}).get("all")
            analysable = f"{_f(q['analyzable_rate'], 2)} ({q['analyzable']}/{q['files']})" if q else "-"
            issues = _f(q["issues_per_kloc"], 1) if q else "-"
            size = f"{t.get('items', len(t.get('instances', {})))} items, {t.get('samples', '-')} samples"
            rows.append([task, variant, size, passk, compiles, metrics, leakage, analysable, issues,
                         str((t.get("generation") or {}).get("completion_tokens", "-"))])
    return rows


def comparison_rows(cmp: dict[str, Any]) -> list[list[str]]:
    """The two-sided Holm-corrected tests of every metric: descriptive; the verdict is the gate's."""
    rows = []
    for t in cmp["tests"]:
        verdict = ("significant drop" if t["regression"] else "significant gain" if t["significant"]
                   else "no significant change")
        effect = "-" if t["effect"] is None else f"{t['effect']:+.2f}"
        rows.append([t["task"], t["metric"], str(t.get("n", "-")), _f(t["mean_a"]), _f(t["mean_b"]),
                     f"{t['diff']:+.3f} [{_f(t['ci_low'])}, {_f(t['ci_high'])}]", t["test"], _f(t["p_value"], 4),
                     _f(t["p_adjusted"], 4), effect, verdict])
    return rows


def comparisons_for(results: dict[str, dict[str, Any]], baseline: Path | None) -> list[dict[str, Any]]:
    out = []
    base = results.get("base")
    for variant, res in results.items():
        if variant != "base" and base is not None:
            out.append(compare_results(base, res, label_a="base", label_b=variant))
    if baseline is not None:
        ref = load_results(baseline)
        for variant, res in results.items():
            out.append(compare_results(ref, res, label_a=f"baseline {baseline}", label_b=variant))
    return out


def _receipt_lines(results: dict[str, dict[str, Any]]) -> list[str]:
    lines = []
    for variant, res in results.items():
        r = res.get("receipt") or {}
        model = r.get("model") or {}
        adapter = r.get("adapter") or {}
        suite = r.get("suite") or {}
        line = (f"{variant}: model {model.get('base_model')} sha256 {str(model.get('base_model_sha256'))[:12]} "
                f"({model.get('engine')} {model.get('engine_version')}, {model.get('dtype')})")
        if adapter:
            line += f"; adapter {adapter.get('name')} sha256 {str(adapter.get('sha256'))[:12]} " \
                    f"template {adapter.get('template')}"
        line += f"; suite {suite.get('name')} {suite.get('version')} sha256 {str(suite.get('sha256'))[:12]}"
        lines.append(line)
    first = next(iter(results.values()), {}).get("receipt") or {}
    tools = []
    for lang, info in ((first.get("sandbox") or {}).get("languages") or {}).items():
        tools += [f"{lang}: {t['name']} {t['version']}" for t in info.get("toolchain", [])]
    tools += [f"{t['name']} {t['version']}" + (f" ({t['config']})" if t.get("config") else "")
              for t in (first.get("analyzer") or {}).get("tools", [])]
    if tools:
        lines.append("toolchains: " + ", ".join(tools))
    lines += override_notes(results)
    m = first.get("machine") or {}
    if m:
        lines.append(f"machine: {m.get('platform')}, {m.get('cpus')} CPUs, "
                     f"{(m.get('memory_bytes') or 0) / 2**30:.0f} GiB, Python {m.get('python')}")
    return lines


def _plots(results: dict[str, dict[str, Any]], pairs: list[Pair]) -> list[str]:
    """Inline SVGs: pass@k bars, issues per KLOC, metric distributions, and per pair the gate's intervals."""
    svgs = []
    first = next(iter(results.values()))["tasks"] if results else {}
    pass_groups = [(t, k) for t in first for k in first[t].get("pass_at_k", {})]
    if pass_groups:
        series = {}
        for variant, res in results.items():
            stats = [((res["tasks"].get(t) or {}).get("pass_at_k") or {}).get(k) for t, k in pass_groups]
            series[variant] = [(s["mean"], s["ci"][0], s["ci"][1]) if s else (None, None, None) for s in stats]
        labels = [f"{t} ({res_lang(results, t)}) @{k}" for t, k in pass_groups]
        svgs.append(plots.grouped_bars("pass@k per task and language (95% bootstrap CI)", labels, series,
                                       ymax=1.0, ylabel="pass@k"))
    counts: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    nloc: dict[str, float] = defaultdict(float)
    for variant, res in results.items():
        for t in res["tasks"].values():
            q = (t.get("quality") or {}).get("all")
            if q:
                nloc[variant] += q["nloc"]
                for c, v in q["categories"].items():
                    counts[c][variant] += v["count"]
    if counts:
        names = sorted(counts)
        series = {v: [(counts[c][v] / (nloc[v] / 1000) if nloc[v] else None, None, None) for c in names]
                  for v in results}
        svgs.append(plots.grouped_bars("static-analysis issues per KLOC by category (analysable code only)",
                                       names, series, ylabel="issues / KLOC"))
    rows = []
    for t in first:
        for m in first[t].get("metrics", {}):
            by = {v: [i["metrics"][m] for i in (res["tasks"].get(t) or {}).get("instances", {}).values()
                      if m in i.get("metrics", {})] for v, res in results.items()}
            rows.append((f"{t} {m}", by))
    if rows:
        svgs.append(plots.strip_plot("metric distributions (per item; tick = mean)", rows))
    for p in pairs:
        grows = [(f"{r['task']} {r['metric']} (n {r['n']})", r["diff"], r["low"], r["high"], r["margin"],
                  r["verdict"]) for r in p.gate["results"]]
        values = paired_values(p.a, p.b)
        for r in p.gate["power"]:
            a, b = values.get((r["task"], r["metric"]), ([], []))
            if not r["gating"] and a:
                grows.append((f"{r['task']} {r['metric']} (n {len(a)})", (sum(b) - sum(a)) / len(a), None, None,
                              r["margin"], "not gating"))
        if grows:
            svgs.append(plots.gate_plot(f"gate: {p.label_b} minus {p.label_a} (dot: mean difference; bar: "
                                        "one-sided interval; dashed: -margin)", grows))
    return svgs


def res_lang(results: dict[str, dict[str, Any]], task: str) -> str:
    t = next(iter(results.values()))["tasks"][task]
    return f"{t['source_language']}->{t.get('language')}" if t.get("source_language") else str(t.get("language", "-"))


def bench_pairs(out: Path, results: dict[str, dict[str, Any]], baseline: Path | None) -> list[Pair]:
    """The pairs a bench report decides: each adapter against base, every variant against ``baseline``."""
    pairs = []
    if "base" in results:
        pairs += [Pair("base", v, results["base"], res, out / "base", out / v) for v, res in results.items()
                  if v != "base"]
    if baseline is not None:
        history = load_history(baseline, exclude=[out / v for v in results])
        pairs += [Pair(f"baseline {baseline}", v, history[0], res, run_folder(baseline), out / v, history=history)
                  for v, res in results.items()]
    return pairs


def run_folder(path: Path) -> Path:
    """The variant folder of a run path given as the folder or as its results.json."""
    return path if path.is_dir() else path.parent


def extra_sections(results: dict[str, dict[str, Any]], comparisons: list[dict[str, Any]]
                   ) -> tuple[list[Section], dict[str, str]]:
    """Sections and per-task headline notes of other report views: the place where they are added.

    Today: the contamination view of issue 19 (:mod:`codeeval.pipeline.contamination_view`).
    """
    found = [Section(s.title, s.markdown, s.html) for s in contamination_view.sections(results, comparisons)]
    return found, dict(contamination_view.headline_notes(results, comparisons))


def _sections(results: dict[str, dict[str, Any]], pairs: list[Pair], comparisons: list[dict[str, Any]]
              ) -> list[Section]:
    files = {str(p): stage_files(p) for p in {*(x.run_a for x in pairs), *(x.run_b for x in pairs)}}
    by_variant = {v: files.get(str(run), StageFiles({}, {}, {})) for v, run in _variant_runs(pairs, results).items()}
    extra, notes = extra_sections(results, comparisons)
    gates = [(f"{p.label_b} vs {p.label_a}", p.gate) for p in pairs] or [
        (f"if {v} were the baseline", gate_results(res, res, margins={})) for v, res in list(results.items())[:1]]
    sections = [headline_section(results, pairs, notes)]
    if pairs:
        sections.append(gate_section(pairs))
    sections.append(power_section(gates))
    if pairs:
        sections.append(flipped_section(pairs, files))
    sections += [outcomes_section(results), costs_section(results, by_variant)]
    tm, th = table(SUMMARY_HEADERS, summary_rows(results))
    sections += [Section("Results", tm, th),
                 Section("Plots", "Plots are in report.html.\n", "".join(_plots(results, pairs)))]
    sections += extra  # other views (contamination, issue 19): after the answer, before the detail tests
    if comparisons:
        intro = "Two-sided paired tests of every metric, Holm-corrected: descriptive; the verdict is the gate's."
        md, html = [intro + "\n"], [f"<p>{escape(intro)}</p>"]
        for cmp in comparisons:
            title = f"{cmp['b']} vs {cmp['a']}"
            tm, th = table(COMPARISON_HEADERS, comparison_rows(cmp))
            md += [f"### {title}\n", *[f"> warning: {w}\n" for w in cmp["warnings"]], tm]
            html += [f"<h3>{escape(title)}</h3>", *[f"<p class='warn'>warning: {escape(w)}</p>"
                                                     for w in cmp["warnings"]], th]
        sections.append(Section("Tests", "\n".join(md), "".join(html)))
    receipt = _receipt_lines(results)
    sections.append(Section("Receipt", "".join(f"- {line}\n" for line in receipt),
                            "<ul>" + "".join(f"<li>{escape(line)}</li>" for line in receipt) + "</ul>"))
    return sections


def _variant_runs(pairs: list[Pair], results: dict[str, dict[str, Any]]) -> dict[str, Path | None]:
    runs: dict[str, Path | None] = dict.fromkeys(results)
    for p in pairs:
        runs[p.label_b] = p.run_b
        if p.label_a in runs:
            runs[p.label_a] = p.run_a
    return runs


def _write(out: Path, name: str, title: str, intro: list[str], sections: list[Section]) -> dict[str, Path]:
    md, html = page(title, sections, intro=intro)
    paths = {"md": out / f"{name}.md", "html": out / f"{name}.html"}
    paths["md"].write_text(md, encoding="utf-8")
    paths["html"].write_text(html, encoding="utf-8")
    return paths


def write_reports(out: Path, results: dict[str, dict[str, Any]], *, baseline: Path | None = None,
                  margins: Mapping[str, float] | None = None, confidence: float = 0.95) -> dict[str, Path]:
    """A bench's ``comparison.json`` (the Holm tests as ``comparisons``, the gates as ``gates``),
    ``report.md`` and ``report.html`` in ``out``. ``margins``/``confidence`` as ``--max-drop`` and
    ``--confidence`` (default margins when empty). Cost: one gate and one set of tests per pair, one
    read of every variant's stage files."""
    comparisons = comparisons_for(results, baseline)
    pairs = [gate_pair(p, margins=margins or {}, confidence=confidence) for p in bench_pairs(out, results, baseline)]
    (out / "comparison.json").write_text(json.dumps({"comparisons": comparisons, "gates": [p.gate for p in pairs]},
                                                    indent=2) + "\n")
    paths = _write(out, "report", "codeeval bench report", [], _sections(results, pairs, comparisons))
    return {**paths, "comparison": out / "comparison.json"}


def write_compare_report(out: Path, baseline: Path, candidate: Path, a: dict[str, Any], b: dict[str, Any], *,
                         gate: dict[str, Any]) -> dict[str, Path]:
    """``codeeval compare``'s ``report.md`` and ``report.html`` in ``out`` (created): the same sections as a
    bench report for the one pair, decided by the ``gate`` compare exits with."""
    out.mkdir(parents=True, exist_ok=True)
    pair = Pair("baseline", "candidate", a, b, run_folder(baseline), run_folder(candidate),
                {**gate, "a": "baseline", "b": "candidate"})  # short labels; the paths head the page
    cmp = compare_results(a, b, label_a="baseline", label_b="candidate")
    results = {"baseline": a, "candidate": b}
    sections = _sections(results, [pair], [cmp])
    return _write(out, "report", "codeeval compare report", [f"baseline: {baseline}", f"candidate: {candidate}"],
                  sections)
