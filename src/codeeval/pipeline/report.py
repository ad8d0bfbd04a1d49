"""Reports of a bench output folder: ``comparison.json``, ``report.md`` and a self-contained
``report.html`` (inline SVG plots, inline CSS, no external resources).

The same row builders feed the Markdown, the HTML and the console tables, so the three never
disagree. Summarization leakage is a column next to the summarization scores; static-quality issue
counts always come with the analysable rate and are per KLOC of analysable code.
"""

from __future__ import annotations

import json
from collections import defaultdict
from html import escape
from pathlib import Path
from typing import Any

from codeeval.pipeline import plots
from codeeval.pipeline.comparison import compare_results, load_results

SUMMARY_HEADERS = ["task", "variant", "pass@k [95% CI]", "compiles", "metrics (mean [95% CI])", "leakage",
                   "analysable", "issues/KLOC", "tokens out"]
COMPARISON_HEADERS = ["task", "metric", "A", "B", "B-A [95% CI]", "test", "p", "p (Holm)", "effect", "verdict"]


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
            passk = "; ".join(f"pass@{k} {_ci(s)}" for k, s in t.get("pass_at_k", {}).items()) or "-"
            comp = t.get("compile")
            compiles = "-" if not comp else (f"{_f(comp['rate'], 2)} ({comp['compiled']}/{comp['checked']})"
                                             + (f", {comp['not_run']} not run" if comp["not_run"] else ""))
            metrics = "; ".join(f"{m} {_ci(s)}" for m, s in t.get("metrics", {}).items()) or "-"
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
            rows.append([task, variant, passk, compiles, metrics, leakage, analysable, issues,
                         str(t["generation"]["completion_tokens"])])
    return rows


def comparison_rows(cmp: dict[str, Any]) -> list[list[str]]:
    rows = []
    for t in cmp["tests"]:
        verdict = "REGRESSION" if t["regression"] else "better" if t["significant"] else "no significant change"
        effect = "-" if t["effect"] is None else f"{t['effect']:+.2f}"
        rows.append([t["task"], t["metric"], _f(t["mean_a"]), _f(t["mean_b"]),
                     f"{t['diff']:+.3f} [{_f(t['ci_low'])}, {_f(t['ci_high'])}]", t["test"], _f(t["p_value"], 4),
                     _f(t["p_adjusted"], 4), effect, verdict])
    return rows


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    esc = [[c.replace("|", "\\|") for c in r] for r in rows]
    return "\n".join(["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers),
                      *("| " + " | ".join(r) + " |" for r in esc)]) + "\n"


def html_table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f'<td class="{"bad" if c == "REGRESSION" else ""}">{escape(c)}</td>' for c in r)
                   + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


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
    m = first.get("machine") or {}
    if m:
        lines.append(f"machine: {m.get('platform')}, {m.get('cpus')} CPUs, "
                     f"{(m.get('memory_bytes') or 0) / 2**30:.0f} GiB, Python {m.get('python')}")
    return lines


def _plots(results: dict[str, dict[str, Any]], comparisons: list[dict[str, Any]]) -> list[str]:
    svgs = []
    tasks = list(next(iter(results.values()))["tasks"]) if results else []
    pass_groups = [(t, k) for t in tasks for k in next(iter(results.values()))["tasks"][t].get("pass_at_k", {})]
    if pass_groups:
        series = {}
        for variant, res in results.items():
            bars = []
            for t, k in pass_groups:
                s = res["tasks"][t]["pass_at_k"][k]
                bars.append((s["mean"], s["ci"][0], s["ci"][1]))
            series[variant] = bars
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
    for t in tasks:
        for m in next(iter(results.values()))["tasks"][t].get("metrics", {}):
            by = {v: [i["metrics"][m] for i in res["tasks"][t]["instances"].values() if m in i.get("metrics", {})]
                  for v, res in results.items()}
            rows.append((f"{t} {m}", by))
    if rows:
        svgs.append(plots.strip_plot("metric distributions (per item; tick = mean)", rows))
    for cmp in comparisons:
        frows = [(f"{t['task']} {t['metric']}", t["diff"], t["ci_low"], t["ci_high"], t["significant"])
                 for t in cmp["tests"]]
        if frows:
            svgs.append(plots.forest_plot(f"{cmp['b']} minus {cmp['a']} (filled = significant after Holm)", frows))
    return svgs


def res_lang(results: dict[str, dict[str, Any]], task: str) -> str:
    t = next(iter(results.values()))["tasks"][task]
    return f"{t['source_language']}->{t['language']}" if t.get("source_language") else t["language"]


_CSS = ("body{font-family:sans-serif;margin:2em;max-width:1400px}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:3px 6px;font-size:12px;text-align:left}th{background:#f3f3f3}"
        "td.bad{color:#b00;font-weight:bold}svg{margin:1em 1em 1em 0;border:1px solid #eee}"
        ".warn{color:#a60}")


def write_reports(out: Path, results: dict[str, dict[str, Any]], *, baseline: Path | None = None) -> dict[str, Path]:
    comparisons = comparisons_for(results, baseline)
    (out / "comparison.json").write_text(json.dumps({"comparisons": comparisons}, indent=2) + "\n")
    receipt = _receipt_lines(results)
    md = ["# codeeval bench report\n", *[f"- {line}" for line in receipt], "",
          "## Results\n", markdown_table(SUMMARY_HEADERS, summary_rows(results))]
    html = [f"<!doctype html><html><head><meta charset='utf-8'><title>codeeval bench report</title>"
            f"<style>{_CSS}</style></head><body><h1>codeeval bench report</h1><ul>",
            *[f"<li>{escape(line)}</li>" for line in receipt], "</ul><h2>Results</h2>",
            html_table(SUMMARY_HEADERS, summary_rows(results))]
    for cmp in comparisons:
        title = f"{cmp['b']} vs {cmp['a']}"
        md += [f"## {title}\n", *[f"> warning: {w}\n" for w in cmp["warnings"]],
               markdown_table(COMPARISON_HEADERS, comparison_rows(cmp))]
        html += [f"<h2>{escape(title)}</h2>", *[f"<p class='warn'>warning: {escape(w)}</p>" for w in cmp["warnings"]],
                 html_table(COMPARISON_HEADERS, comparison_rows(cmp))]
    html += ["<h2>Plots</h2>", *_plots(results, comparisons), "</body></html>"]
    paths = {"md": out / "report.md", "html": out / "report.html", "comparison": out / "comparison.json"}
    paths["md"].write_text("\n".join(md), encoding="utf-8")
    paths["html"].write_text("\n".join(html), encoding="utf-8")
    return paths
