"""Real PMD 7 (one JVM for the whole batch) and lizard on Java fixtures. One PMD run serves every
test in this module; it costs a JVM start (~3-10 s here), hence the integration mark."""

from __future__ import annotations

import pytest

from codeeval.analyzer.analysis import Analyzer
from codeeval.analyzer.model import AnalysisResult
from codeeval.analyzer.pmd import STUDY_CATEGORIES

from .conftest import fixture_file, inputs

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def batch(analyzer: Analyzer) -> AnalysisResult:
    files = inputs(fixture_file("java/UnusedLocal.java", passed=True), fixture_file("java/Clean.java", passed=True),
                   fixture_file("java/method_only.java", passed=False), fixture_file("java/Broken.java"))
    return analyzer.analyze(files, ["bestpractices", "quickstart"])


def _report(batch: AnalysisResult, path: str):
    return next(r for r in batch.files if r.path == path)


def test_unused_local_gets_exactly_that_finding(batch: AnalysisResult) -> None:
    report = _report(batch, "java/UnusedLocal.java")
    assert report.analyzable and not report.wrapped and not report.tool_errors
    assert [(f.tool, f.rule, f.category, f.line) for f in report.findings] == [
        ("pmd", "UnusedLocalVariable", "bestpractices", 5)]


def test_clean_class_gets_none(batch: AnalysisResult) -> None:
    report = _report(batch, "java/Clean.java")
    assert report.analyzable and report.findings == []


def test_bare_method_is_wrapped_parsed_and_lines_map_back(batch: AnalysisResult) -> None:
    report = _report(batch, "java/method_only.java")
    assert report.wrapped and report.analyzable and not report.parse_error
    assert [(f.rule, f.line) for f in report.findings] == [("UnusedLocalVariable", 2)]
    assert report.metrics.nloc == 4  # the caller's lines, not the wrapper's
    assert [fn.name for fn in report.metrics.functions] == ["twice"]


def test_unparsable_file_is_unanalysable_and_excluded(batch: AnalysisResult) -> None:
    report = _report(batch, "java/Broken.java")
    assert not report.analyzable and report.parse_error and report.findings == []
    summary = batch.summary_all["java"]
    assert (summary.files, summary.analyzable_files, summary.analyzable_rate) == (4, 3, 0.75)
    assert summary.issues == 2
    counts = {(c.tool, c.category): c.count for c in summary.categories}
    assert counts == {("pmd", "bestpractices"): 2, ("pmd", "quickstart"): 2}


def test_passing_summary(batch: AnalysisResult) -> None:
    passing = batch.summary_passing["java"]
    assert (passing.files, passing.issues) == (2, 1)


def test_ruleset_hash_depends_on_the_categories(batch: AnalysisResult, analyzer: Analyzer) -> None:
    pmd = next(t for t in batch.tools if t.name == "pmd")
    assert pmd.config == "category/java/bestpractices.xml,rulesets/java/quickstart.xml"
    assert pmd.version.startswith("7.")
    study = analyzer.pmd.tool_info(list(STUDY_CATEGORIES))
    assert study.config_sha256 != pmd.config_sha256 and len(study.config_sha256) == 64


def test_without_wrapping_pmd_rejects_a_bare_method(analyzer: Analyzer) -> None:
    result = analyzer.analyze(inputs(fixture_file("java/method_only.java")), ["bestpractices"], wrap_java=False)
    report = result.files[0]
    assert not report.wrapped and not report.analyzable
    assert report.parse_error.startswith("pmd: ") and "ParseException" in report.parse_error
    assert result.summary_all["java"].analyzable_rate == 0.0
