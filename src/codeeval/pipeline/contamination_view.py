"""What the checkpoints saw, for the report (issue 19): contamination per task, every metric on the
clean subset beside the full set, the comparison tests on both, provenance and mixture differences,
and the headline's contamination notes.

Inputs are one bench run's ``{variant: results.json}`` (an adapter variant carries the
``provenance`` and ``contamination`` records of :func:`codeeval.contamination.bench_record`) and the
run's comparisons (:func:`codeeval.pipeline.comparison.compare_results` dicts, keys ``a``, ``b``,
``tests``...). Rules:

- a variant without an adapter (the base model) imposes no clean subset and has no provenance of
  ours; an adapter variant without a record, or whose check could not read its training data, is
  "contamination unknown" / "provenance unknown", never clean;
- the clean subset of a comparison is its items contaminated for neither side; the clean-subset
  tests are a separate Holm family (``compare_results(..., items=...)``), reported and never gated;
  a comparison whose side is not among ``results`` (a ``--baseline`` file) gets none, and says so;
- a variant's gain "comes from contaminated items" when the full-set test of a metric is a
  significant gain and, with contaminated items left out, the mean paired difference is at most
  half of it (:data:`SHARE`).

Cost: per comparison with contaminated items, the tests again on the clean subset (one bootstrap per
metric); per task and subset, one bootstrap per number (:mod:`codeeval.contamination.subset`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from html import escape
from typing import Any

from codeeval.contamination.provenance import MixtureEntry, Provenance, mixture_diff
from codeeval.contamination.subset import metric_names, subset_metrics
from codeeval.pipeline.comparison import compare_results

#: A gain is "from contaminated items" when the clean subset keeps at most this share of it.
SHARE = 0.5
#: Ids listed per cell before "(N more)"; results.json has them all.
MAX_IDS = 20


@dataclass(frozen=True)
class Section:
    """One part of the report: a title, a Markdown fragment and the same as an escaped HTML fragment."""

    title: str
    markdown: str
    html: str


@dataclass(frozen=True)
class Subset:
    """The clean subset of a task for some variants: ``ids`` (None: unknown, ``reason`` says why) and
    the items left out."""

    ids: list[str] | None
    excluded: list[str]
    reason: str = ""


# -- records -------------------------------------------------------------------------------------

def is_adapter(res: Mapping[str, Any]) -> bool:
    """Whether a variant ran with an adapter (it has a provenance record, or its receipt names one)."""
    return res.get("provenance") is not None or (res.get("receipt") or {}).get("adapter") is not None


def task_check(res: Mapping[str, Any], task: str) -> tuple[list[str] | None, list[str], str]:
    """An adapter variant's (clean ids or None when unknown, contaminated ids, reason if unknown)."""
    record = res.get("contamination")
    if not isinstance(record, dict):
        return None, [], "contamination unknown: this results.json has no contamination record"
    body = (record.get("tasks") or {}).get(task)
    if not isinstance(body, dict) or body.get("clean_ids") is None:
        reason = record.get("reason") or "the check did not cover this task"
        return None, list((body or {}).get("contaminated_any") or []), f"contamination unknown: {reason}"
    return list(body["clean_ids"]), list(body.get("contaminated_any") or []), ""


def pair_subset(sides: Sequence[tuple[str, Mapping[str, Any]]], task: str) -> Subset | None:
    """The items of ``task`` clean for every adapter among ``sides`` (label, results); None when no
    side is an adapter (no subset applies)."""
    adapters = [(label, res) for label, res in sides if is_adapter(res)]
    if not adapters:
        return None
    excluded: set[str] = set()
    for label, res in adapters:
        clean, bad, reason = task_check(res, task)
        if clean is None:
            return Subset(None, bad, f"{label}: {reason}")
        excluded |= set(bad)
    items = list((sides[-1][1].get("tasks") or {}).get(task, {}).get("instances") or {})
    return Subset([i for i in items if i not in excluded], [i for i in items if i in excluded])


def clean_comparison(results: Mapping[str, Mapping[str, Any]], cmp: Mapping[str, Any]
                     ) -> tuple[dict[str, Any] | None, dict[str, Subset], str]:
    """(the clean-subset tests of a comparison or None, the subset per task, why there are none).
    Only tasks with contaminated items are tested again (elsewhere the clean tests are the full ones)."""
    a, b = results.get(cmp["a"]), results.get(cmp["b"])
    if a is None or b is None:
        missing = cmp["a"] if a is None else cmp["b"]
        return None, {}, f"no clean-subset tests: {missing} is not a variant of this run"
    subsets: dict[str, Subset] = {}
    for task in sorted(set(a.get("tasks") or {}) & set(b.get("tasks") or {})):
        sub = pair_subset([(cmp["a"], a), (cmp["b"], b)], task)
        if sub is not None:
            subsets[task] = sub
    items = {t: s.ids for t, s in subsets.items() if s.ids is not None and s.excluded}
    if not items:
        unknown = any(s.ids is None for s in subsets.values())
        return None, subsets, ("no clean-subset tests: contamination unknown" if unknown else
                               "no contaminated items: the clean-subset tests are the full ones")
    clean = compare_results(dict(a), dict(b), alpha=cmp.get("alpha", 0.05), label_a=cmp["a"], label_b=cmp["b"],
                            items=items)
    return clean, subsets, ""


# -- headline -------------------------------------------------------------------------------------

def _ci(lo: Any, hi: Any) -> str:
    return f"[{lo:+.3f}, {hi:+.3f}]" if isinstance(lo, int | float) and isinstance(hi, int | float) else "[n/a]"


def headline_notes(results: dict[str, dict[str, Any]], comparisons: list[dict[str, Any]]) -> dict[str, str]:
    """Task -> one sentence, for the tasks where a variant's significant gain is in large part from
    contaminated items (module docstring), and for the tasks an adapter variant was compared on
    with its contamination unknown. Clauses of several comparisons are joined with "; "."""
    notes: dict[str, list[str]] = {}
    for cmp in comparisons:
        b = results.get(cmp["b"])
        if b is None or not is_adapter(b):
            continue
        clean, subsets, _ = clean_comparison(results, cmp)
        clean_tests = {(t["task"], t["metric"]): t for t in (clean or {}).get("tests", [])}
        for task in sorted({t["task"] for t in cmp.get("tests", [])}):
            ids, bad, reason = task_check(b, task)
            if ids is None:
                notes.setdefault(task, []).append(f"{cmp['b']}: {reason}; its scores on {task} may include items "
                                                  "it was trained on")
                continue
            sub = subsets.get(task)
            if sub is None or not bad or sub.ids is None:
                continue
            from_bad = []
            for full in (t for t in cmp["tests"] if t["task"] == task and t["significant"] and t["diff"] > 0):
                ct = clean_tests.get((task, full["metric"]))
                if ct is None or ct["n"] == 0 or ct["diff"] <= SHARE * full["diff"]:
                    from_bad.append((full, ct))
            if not from_bad:
                continue
            full, ct = from_bad[0]
            clean_part = (f"on the {ct['n']} clean items the difference is {ct['diff']:+.3f} "
                          f"{_ci(ct['ci_low'], ct['ci_high'])}" if ct and ct["n"] else "no clean item is left")
            also = f" (also {', '.join(f['metric'] for f, _ in from_bad[1:])})" if len(from_bad) > 1 else ""
            notes.setdefault(task, []).append(
                f"{cmp['b']}'s gain over {cmp['a']} on {task} ({full['metric']} {full['diff']:+.3f}{also}) comes "
                f"from {len(sub.excluded)} contaminated items: {clean_part}")
    return {task: "; ".join(dict.fromkeys(parts)) for task, parts in notes.items()}


# -- rendering ------------------------------------------------------------------------------------

def _table(headers: list[str], rows: list[list[str]]) -> tuple[str, str]:
    md = "\n".join(["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
                   + ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows])
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return md, f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class _Doc:
    """Paragraphs and tables accumulated as Markdown and HTML together."""

    def __init__(self) -> None:
        self.md: list[str] = []
        self.html: list[str] = []

    def para(self, text: str) -> None:
        self.md.append(text)
        self.html.append(f"<p>{escape(text)}</p>")

    def table(self, headers: list[str], rows: list[list[str]]) -> None:
        md, html = _table(headers, rows)
        self.md.append(md)
        self.html.append(html)

    def section(self, title: str) -> Section:
        return Section(title, "\n\n".join(self.md) + "\n", "\n".join(self.html))


def _ids(ids: Sequence[str]) -> str:
    shown = ", ".join(ids[:MAX_IDS])
    return shown + (f" (+{len(ids) - MAX_IDS} more)" if len(ids) > MAX_IDS else "") if ids else "-"


def _num(stat: Mapping[str, Any] | None) -> str:
    if not stat or stat.get("mean") is None:
        return "n/a"
    lo, hi = (stat.get("ci") or [None, None])[:2]
    ci = f" [{lo:.3f}, {hi:.3f}]" if lo is not None and hi is not None else ""
    return f"{stat['mean']:.3f}{ci} (n={stat.get('n', 0)})"


def _contamination_section(results: Mapping[str, Mapping[str, Any]]) -> Section | None:
    doc = _Doc()
    for variant, res in results.items():
        if not is_adapter(res):
            continue
        record = res.get("contamination")
        if not isinstance(record, dict):
            doc.para(f"{variant}: contamination unknown: this results.json has no contamination record.")
            continue
        settings = record.get("settings") or {}
        knobs = ", ".join(f"{k}={v}" for k, v in settings.items())
        status = record.get("status", "unknown")
        doc.para(f"{variant}: {status}" + (f" ({record['reason']})" if record.get("reason") else "")
                 + f"; settings: {knobs}; an item side with fewer than n words gets the exact-match check only.")
        sources = record.get("sources") or []
        if sources:
            doc.table(["training source", "examples read", "sha256", "error"],
                      [[s.get("label", ""), str(s.get("examples", 0)), (s.get("sha256") or "")[:12] or "-",
                        s.get("error") or "-"] for s in sources])
        rows = []
        for task, body in (record.get("tasks") or {}).items():
            bad = body.get("contaminated") or {}
            clean = body.get("clean_ids")
            short = body.get("short") or {}
            rows.append([task, "contamination unknown" if clean is None else body.get("status", ""),
                         str(body.get("items", "")),
                         *[str((bad.get(side) or {}).get("count", 0)) for side in ("prompt", "reference")],
                         _ids(body.get("contaminated_any") or []),
                         f"{len(short.get('prompt') or [])} / {len(short.get('reference') or [])}",
                         "unknown" if clean is None else str(len(clean))])
        if rows:
            doc.table(["task", "state", "items", "prompt contaminated", "reference contaminated", "contaminated ids",
                       "exact-match only (prompt / reference)", "clean items"], rows)
    return doc.section("Contamination") if doc.md else None


def _metric_cells(task: Mapping[str, Any], m: Mapping[str, Any], names: list[str], ks: list[str]) -> list[str]:
    cells = [_num((m.get("pass_at_k") or {}).get(k)) for k in ks]
    if "compile" in task:
        c = m.get("compile") or {}
        cells.append(f"{c['rate']:.3f} ({c['compiled']}/{c['checked']})" if c.get("rate") is not None else "n/a")
    return cells + [_num((m.get("metrics") or {}).get(n)) for n in names]


def _clean_metrics_section(results: Mapping[str, Mapping[str, Any]]) -> Section | None:
    adapters = [(v, r) for v, r in results.items() if is_adapter(r)]
    tasks = list(dict.fromkeys(t for _, r in results.items() for t in (r.get("tasks") or {})))
    doc = _Doc()
    for task in tasks:
        if not adapters:
            break
        bodies = {v: r["tasks"][task] for v, r in results.items() if task in (r.get("tasks") or {})}
        first = next(iter(bodies.values()))
        names = list(dict.fromkeys(n for b in bodies.values() for n in metric_names(b)))
        ks = list(dict.fromkeys(k for b in bodies.values() for k in (b.get("pass_at_k") or {})))
        headers = ["variant", "subset", "items"] + [f"pass@{k}" for k in ks] + (["compile"] if "compile" in first
                                                                               else []) + names
        rows = [[v, "all", str(len(b.get("instances") or {}))] + _metric_cells(b, subset_metrics(b), names, ks)
                for v, b in bodies.items()]
        for adapter, res in adapters:
            sub = pair_subset([(adapter, res)], task)
            if sub is None or task not in (res.get("tasks") or {}):
                continue
            label = f"clean for {adapter}"
            if sub.ids is None:
                rows.append(["all", label, sub.reason] + [""] * (len(headers) - 3))
            elif not sub.excluded:
                rows.append(["all", label, "no contaminated items: as above"] + [""] * (len(headers) - 3))
            else:
                rows += [[v, label, str(len(sub.ids))] + _metric_cells(b, subset_metrics(b, sub.ids), names, ks)
                         for v, b in bodies.items()]
        doc.para(f"{task}: every metric on all items and on each adapter's clean subset (its contaminated "
                 "items left out), over the per-item values; corpus-level values and the static-quality "
                 "summaries are for all items only.")
        doc.table(headers, rows)
    return doc.section("Clean-subset metrics") if doc.md else None


def _test_cell(t: Mapping[str, Any] | None) -> str:
    if t is None:
        return "-"
    return (f"{t['diff']:+.3f} {_ci(t['ci_low'], t['ci_high'])} p_adj={t['p_adjusted']:.3g} n={t['n']}"
            if t.get("p_adjusted") is not None else f"{t['diff']:+.3f} n={t['n']}")


def _clean_tests_section(results: Mapping[str, Mapping[str, Any]], comparisons: list[dict[str, Any]]
                         ) -> Section | None:
    doc = _Doc()
    for cmp in comparisons:
        if not any(is_adapter(r) for r in (results.get(cmp["a"]) or {}, results.get(cmp["b"]) or {})):
            continue
        clean, subsets, why = clean_comparison(results, cmp)
        title = f"{cmp['b']} vs {cmp['a']}"
        if clean is None:
            unknown = [f"{t}: {s.reason}" for t, s in subsets.items() if s.ids is None]
            doc.para(f"{title}: {why}" + (f"; {'; '.join(unknown)}" if unknown else "") + ".")
            continue
        by_key = {(t["task"], t["metric"]): t for t in clean["tests"]}
        rows = []
        for t in cmp.get("tests", []):
            sub = subsets.get(t["task"])
            if sub is None:
                continue
            if sub.ids is None:
                cell = sub.reason
            elif not sub.excluded:
                cell = "no contaminated items (as full)"
            else:
                cell = _test_cell(by_key.get((t["task"], t["metric"])))
            rows.append([t["task"], t["metric"], t["test"], _test_cell(t), str(len(sub.excluded)), cell])
        doc.para(f"{title}: the tests on all items (the report's Holm family) and on the items contaminated for "
                 "neither side (Holm-adjusted among themselves; reported, not gated).")
        doc.table(["task", "metric", "test", "all items: B-A [CI]", "left out", "clean subset: B-A [CI]"], rows)
    return doc.section("Comparison tests on the clean subset (not gated)") if doc.md else None


def provenance_of(record: Mapping[str, Any]) -> Provenance:
    """A results file's ``provenance`` record as the typed :class:`Provenance` (unknown fields dropped)."""
    known = {f.name for f in fields(Provenance)}
    data = {k: v for k, v in record.items() if k in known}
    data["mixture"] = [MixtureEntry(**m) for m in data.get("mixture") or []]
    data.setdefault("status", "unknown")
    data.setdefault("path", "")
    return Provenance(**data)


def _short(value: Any) -> str:
    return "not recorded" if value in (None, "", {}) else str(value)[:16]


def data_hashes(p: Provenance, record: Mapping[str, Any] | None) -> str:
    """Each task's recorded data sha256, and whether the contamination check read the same examples
    (its source of that task has the same sha256) or others (a superset: no held-out split, no
    docstring stripping; or the data changed since training)."""
    sources = {str(s.get("label", "")).split(" (")[0]: s for s in (record or {}).get("sources") or []}
    parts = []
    for task, sha in (p.data_sha256 or {}).items():
        read = sources.get(task)
        same = ("" if read is None or not read.get("sha256") else
                " (the check read the same examples)" if read["sha256"] == sha else
                " (the check read other examples: see its sources)")
        parts.append(f"{task}={str(sha)[:12]}{same}")
    return ", ".join(parts)


#: The trainer-config keys the provenance table summarises (section, key), when recorded.
CONFIG_KEYS = (("method", "kind"), ("train", "max_steps"), ("train", "epochs"), ("train", "batch_size"),
               ("train", "grad_accum"), ("train", "learning_rate"), ("train", "scheduler"), ("data", "max_length"),
               ("data", "packing"), ("data", "completion_only"), ("data", "eval_fraction"))


def config_summary(config: Mapping[str, Any] | None) -> str:
    """The recorded trainer config in one line: description, LoRA rank/alpha/dropout, quantization
    bits, and :data:`CONFIG_KEYS`; "not recorded" without a config."""
    if not config:
        return "not recorded"
    parts = [str(config["description"])] if config.get("description") else []
    method: Mapping[str, Any] = config["method"] if isinstance(config.get("method"), dict) else {}
    lora, quant = method.get("lora"), method.get("quant")
    if isinstance(lora, dict):
        parts.append(f"lora r={lora.get('r')} alpha={lora.get('alpha')} dropout={lora.get('dropout')}")
    if isinstance(quant, dict) and method.get("kind") == "qlora":
        parts.append(f"{quant.get('bits')}-bit {quant.get('quant_type')}")
    for section, key in CONFIG_KEYS:
        body = config.get(section)
        if isinstance(body, dict) and body.get(key) is not None:
            parts.append(f"{key}={body[key]}")
    return "; ".join(parts) or "not recorded"


def _provenance_rows(p: Provenance, record: Mapping[str, Any] | None) -> list[list[str]]:
    mixing = p.mixing or {}
    cost = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in (p.cost or {}).items())
    hashes = data_hashes(p, record)
    return [["method", f"{p.method or 'not recorded'} ({p.kind or 'kind not recorded'})"],
            ["trainer config", config_summary(p.config)],
            ["base model", f"{p.base_model or 'not recorded'} sha256 {_short(p.base_model_sha256)}"],
            ["template", f"{p.template or 'not recorded'} sha256 {_short(p.template_sha256)}"],
            ["mixing", ", ".join(f"{k}={v}" for k, v in mixing.items()) or "not recorded"],
            ["seed", _short(p.seed)], ["steps / outcome", f"{_short(p.steps)} / {_short(p.outcome)}"],
            ["data sha256", hashes or "not recorded (an adapter trained before the trainer recorded them; the "
             "contamination check's per-source sha256 says what it compared)"],
            ["cost", cost or "not recorded"]]


def _provenance_section(results: Mapping[str, Mapping[str, Any]], comparisons: list[dict[str, Any]]) -> Section:
    doc = _Doc()
    provs: dict[str, Provenance] = {}
    for variant, res in results.items():
        if not is_adapter(res):
            doc.para(f"{variant}: the base model without an adapter; its training data are not ours to record.")
            continue
        record = res.get("provenance")
        prov = provenance_of(record) if isinstance(record, dict) else Provenance(
            "unknown", "", "provenance unknown: this results.json has no provenance record")
        provs[variant] = prov
        if prov.status != "known":
            doc.para(f"{variant}: {prov.reason or 'provenance unknown'}")
            continue
        doc.para(f"{variant}: trained by the codeeval trainer ({prov.path})")
        doc.table(["field", "value"], _provenance_rows(prov, res.get("contamination")))
        doc.table(["task", "available", "effective (per epoch)", "share"],
                  [[m.task, str(m.available), str(m.effective), f"{m.proportion:.3f}"] for m in prov.mixture])
    for cmp in comparisons:
        pa, pb = provs.get(cmp["a"]), provs.get(cmp["b"])
        if pa is None or pb is None:
            continue
        diff = mixture_diff(pa, pb)
        if diff is None:
            who = ", ".join(v for v, p in ((cmp["a"], pa), (cmp["b"], pb)) if p.status != "known")
            doc.para(f"mixture difference {cmp['b']} vs {cmp['a']}: unknown (provenance unknown: {who})")
            continue
        doc.para(f"mixture difference {cmp['b']} vs {cmp['a']} (B - A):")
        doc.table(["task", f"{cmp['a']} effective", f"{cmp['b']} effective", "share change"],
                  [[d.task, "absent" if d.a_effective is None else str(d.a_effective),
                    "absent" if d.b_effective is None else str(d.b_effective), f"{d.proportion_change:+.3f}"]
                   for d in diff])
    return doc.section("Provenance")


def sections(results: dict[str, dict[str, Any]], comparisons: list[dict[str, Any]]) -> list[Section]:
    """The report's sections on what the checkpoints saw, in order: contamination per adapter and
    task, clean-subset metrics, clean-subset comparison tests, provenance with mixture differences.
    Sections with nothing to say (no adapter variant) are left out; provenance is always there."""
    out = [_contamination_section(results), _clean_metrics_section(results),
           _clean_tests_section(results, comparisons), _provenance_section(results, comparisons)]
    return [s for s in out if s is not None]
