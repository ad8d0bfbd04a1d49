"""Rendering of the report's sections to Markdown and to one self-contained HTML page.

A :class:`Section` carries its title and both renderings (the shape other report views, such as
the contamination view of issue 19, also return), so the Markdown and the HTML come from the same
rows and never disagree. The HTML has inline CSS and inline SVG only: no script, no external
resource. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from html import escape

from codeeval.pipeline.report_flips import Flip, TaskFlips

CSS = ("body{font-family:sans-serif;margin:2em;max-width:1400px;color:#222}"
       "table{border-collapse:collapse;margin:.6em 0 1.2em}"
       "td,th{border:1px solid #ccc;padding:3px 6px;font-size:12px;text-align:left;vertical-align:top}"
       "th{background:#f3f3f3}td.bad,span.bad{color:#b00;font-weight:bold}td.good{color:#070}"
       "td.unsure{color:#a60;font-weight:bold}svg{margin:1em 1em 1em 0;border:1px solid #eee}"
       ".warn{color:#a60}.banner{padding:.6em 1em;margin:.8em 0;border-radius:4px;font-size:16px}"
       ".regressed{background:#fde2e2;border-left:6px solid #b00}.improved{background:#e2f5e2;"
       "border-left:6px solid #070}.no-change,.nothing-to-compare{background:#eef3fa;border-left:6px solid #4c78a8}"
       ".inconclusive{background:#fff4dc;border-left:6px solid #d90}.override{background:#fde2e2;"
       "border-left:6px solid #b00;padding:.5em 1em}"
       "pre{background:#f7f7f7;padding:6px;font-size:11px;overflow:auto;max-height:28em;margin:2px 0;"
       "white-space:pre-wrap;overflow-wrap:anywhere}"
       ".sides{display:grid;grid-template-columns:1fr 1fr;gap:10px}.sides>div{min-width:0}details{margin:.3em 0}"
       "summary{cursor:pointer;font-size:13px}nav a{margin-right:1em;font-size:13px}")

#: Cell classes by the words a cell holds (verdicts of the gate).
CELL_CLASS = {"regressed": "bad", "REGRESSION": "bad", "improved": "good", "inconclusive": "unsure",
              "INCONCLUSIVE": "unsure"}


@dataclass(frozen=True)
class Section:
    title: str
    markdown: str
    html: str


def anchor(title: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in title.lower()).strip("-")


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    esc = [[c.replace("|", "\\|").replace("\n", " ") for c in r] for r in rows]
    return "\n".join(["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers),
                      *("| " + " | ".join(r) + " |" for r in esc)]) + "\n"


def html_table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f'<td class="{CELL_CLASS.get(c, "")}">{escape(c)}</td>' for c in r) + "</tr>"
                   for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def table(headers: list[str], rows: list[list[str]]) -> tuple[str, str]:
    """(Markdown, HTML) of one table."""
    return markdown_table(headers, rows), html_table(headers, rows)


def banner(verdict_label: str, text: str) -> tuple[str, str]:
    """The one-line answer of a comparison, coloured by its verdict."""
    css = verdict_label.replace(" ", "-")
    return (f"**{verdict_label.upper()}**: {text}\n",
            f"<div class='banner {css}'><b>{escape(verdict_label.upper())}</b>: {escape(text)}</div>")


def _code(label: str, text: str, lang: str = "") -> tuple[str, str]:
    if not text:
        return "", ""
    fence = "````" if "```" in text else "```"
    return (f"{label}:\n{fence}{lang}\n{text}\n{fence}\n",
            f"<div>{escape(label)}:<pre>{escape(text)}</pre></div>")


def flip_block(f: Flip, label_a: str, label_b: str, *, open_: bool) -> tuple[str, str]:
    """One flipped item: both sides' value, outcome, code and stderr tail."""
    sides = [f"{label}: {side.value}" + (f", {side.outcome}" if side.outcome != "-" else "")
             for label, side in ((label_a, f.a), (label_b, f.b))]
    head = f"{f.item}: {f.change} ({'; '.join(sides)})"
    md, cols = [f"#### {head}\n"], []
    for label, side in ((label_a, f.a), (label_b, f.b)):
        what = f"code ({side.outcome})" if side.outcome != "-" else "answer"  # summaries have no outcome
        code_md, code_html = _code(f"{label} {what}", side.code)
        err_md, err_html = _code(f"{label} stderr (tail)", side.stderr)
        md += [code_md, err_md]
        cols.append(f"<div>{code_html or escape(label) + ': no code recorded'}{err_html}</div>")
    html = (f"<details{' open' if open_ else ''}><summary>{escape(head)}</summary>"
            f"<div class='sides'>{''.join(cols)}</div></details>")
    return "".join(m for m in md if m), html


def flips_section(groups: Iterable[tuple[str, str, list[TaskFlips]]], *, open_first: int = 1) -> tuple[str, str]:
    """(Markdown, HTML) of every pair's flipped items; ``groups`` are (label A, label B, flips)."""
    md, html = [], []
    for label_a, label_b, task_flips in groups:
        md.append(f"### {label_b} vs {label_a}\n")
        html.append(f"<h3>{escape(label_b)} vs {escape(label_a)}</h3>")
        changed = [tf for tf in task_flips if tf.total]
        if not changed:
            md.append("No item changed.\n")
            html.append("<p>No item changed.</p>")
        elif not any(f.a.code or f.b.code for tf in changed for f in tf.shown):
            note = "No code or stderr to show: the runs' folders hold no stage files beside results.json."
            md.append(note + "\n")
            html.append(f"<p class='warn'>{escape(note)}</p>")
        for tf in changed:
            noun = "item" if tf.total == 1 else "items"
            what = f"{noun} changed" if tf.kind in ("pass/fail", "compile") else f"{noun} with a lower {tf.kind}"
            more = f" (the first {len(tf.shown)} shown)" if tf.total > len(tf.shown) else ""
            title = f"{tf.task}: {tf.total} {what}{more}"
            hint = " (click an item for its code)" if len(tf.shown) > open_first else ""
            md.append(f"**{title}**\n")
            html.append(f"<p><b>{escape(title)}</b>{escape(hint)}</p>")
            for i, f in enumerate(tf.shown):
                m, h = flip_block(f, label_a, label_b, open_=i < open_first)
                md.append(m)
                html.append(h)
    return "\n".join(md), "".join(html)


def page(title: str, sections: list[Section], *, intro: list[str]) -> tuple[str, str]:
    """The whole report: ``intro`` lines, then a table of contents and every section."""
    md = [f"# {title}\n", *[f"- {line}" for line in intro], ""]
    nav = "".join(f"<a href='#{anchor(s.title)}'>{escape(s.title)}</a>" for s in sections)
    html = [f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
            f"<style>{CSS}</style></head><body><h1>{escape(title)}</h1>",
            "".join(f"<p>{escape(line)}</p>" for line in intro), f"<nav>{nav}</nav>"]
    for s in sections:
        md += [f"## {s.title}\n", s.markdown]
        html += [f"<h2 id='{anchor(s.title)}'>{escape(s.title)}</h2>", s.html]
    html.append("</body></html>")
    return "\n".join(md), "\n".join(html)
