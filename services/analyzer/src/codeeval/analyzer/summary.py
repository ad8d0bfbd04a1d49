"""Aggregates over file reports, honest about failures: issue counts, NLOC and complexity come only
from analysable files, and the analysable rate always travels with them. Per-KLOC values use the
NLOC of the analysable files (0 when there is none)."""

from __future__ import annotations

from collections import Counter

from codeeval.analyzer.model import CategoryCount, FileReport, Summary


def _per_kloc(count: int, nloc: int) -> float:
    return count * 1000.0 / nloc if nloc else 0.0


def summarize(reports: list[FileReport], quickstart_rules: frozenset[str] = frozenset()) -> Summary:
    """Summary of ``reports`` (one language). ``quickstart_rules`` adds a ``pmd/quickstart`` count of
    the findings whose rule is in PMD's quickstart set (when that set was requested)."""
    ok = [r for r in reports if r.analyzable]
    nloc = sum(r.metrics.nloc for r in ok)
    counts: Counter[tuple[str, str]] = Counter()
    for report in ok:
        for f in report.findings:
            counts[(f.tool, f.category)] += 1
            if f.tool == "pmd" and f.rule in quickstart_rules:
                counts[("pmd", "quickstart")] += 1
    issues = sum(len(r.findings) for r in ok)
    ccs = [fn.cyclomatic_complexity for r in ok for fn in r.metrics.functions]
    return Summary(
        files=len(reports), analyzable_files=len(ok), analyzable_rate=len(ok) / len(reports) if reports else 0.0,
        issues=issues, nloc=nloc, issues_per_kloc=_per_kloc(issues, nloc),
        mean_cyclomatic_complexity=sum(ccs) / len(ccs) if ccs else 0.0,
        categories=[CategoryCount(tool, cat, n, _per_kloc(n, nloc)) for (tool, cat), n in sorted(counts.items())])


def summarize_by_language(reports: list[FileReport], quickstart_rules: frozenset[str] = frozenset(),
                          passing_only: bool = False) -> dict[str, Summary]:
    """One summary per language. With ``passing_only``, only files marked ``passed=True`` count, and
    only languages where the caller marked at least one file appear."""
    by_lang: dict[str, list[FileReport]] = {}
    for report in reports:
        by_lang.setdefault(report.language, []).append(report)
    out = {}
    for lang, group in by_lang.items():
        if passing_only:
            if all(r.passed is None for r in group):
                continue
            group = [r for r in group if r.passed]
        out[lang] = summarize(group, quickstart_rules)
    return out
