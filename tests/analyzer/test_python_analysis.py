"""Real pylint (in-process), lizard and radon on fixture files with known findings."""

from __future__ import annotations

from codeeval.analyzer.analysis import Analyzer, RawFile
from codeeval.analyzer.pmd import Pmd

from .conftest import fixture_file, inputs


def _by_path(result):
    return {r.path: r for r in result.files}


def test_unused_variable_gets_exactly_that_finding_and_clean_file_none(analyzer: Analyzer) -> None:
    result = analyzer.analyze(inputs(fixture_file("python/unused_variable.py"), fixture_file("python/clean.py")),
                              ["bestpractices"])
    reports = _by_path(result)
    unused = reports["python/unused_variable.py"]
    assert unused.analyzable and not unused.tool_errors
    assert [(f.tool, f.rule, f.symbol, f.category, f.line) for f in unused.findings] == [
        ("pylint", "W0612", "unused-variable", "warning", 6)]
    assert unused.findings[0].path == "python/unused_variable.py"
    clean = reports["python/clean.py"]
    assert clean.analyzable and clean.findings == []


def test_syntax_error_is_unanalysable_not_clean(analyzer: Analyzer) -> None:
    result = analyzer.analyze(inputs(fixture_file("python/syntax_error.py"), fixture_file("python/unused_variable.py")),
                              ["bestpractices"])
    broken = _by_path(result)["python/syntax_error.py"]
    assert not broken.analyzable and "line 1" in broken.parse_error
    assert broken.findings == []  # no pylint E0001 counted as an issue
    summary = result.summary_all["python"]
    assert (summary.files, summary.analyzable_files, summary.analyzable_rate) == (2, 1, 0.5)
    # only the analysable file: 1 issue over lizard's 3 NLOC (def, assignment, return; docstrings excluded)
    assert summary.issues == 1 and summary.nloc == 3
    assert summary.issues_per_kloc == 1000 * 1 / 3


def test_metrics_from_lizard_and_radon(analyzer: Analyzer) -> None:
    result = analyzer.analyze(inputs(fixture_file("python/unused_variable.py")), [])
    metrics = result.files[0].metrics
    assert [(f.name, f.cyclomatic_complexity, f.start_line, f.end_line, f.parameter_count)
            for f in metrics.functions] == [("scale", 1, 4, 7, 1)]
    assert metrics.loc == 7 and 0 < metrics.maintainability_index <= 100


def test_same_file_twice_in_a_batch_gives_the_same_findings(analyzer: Analyzer) -> None:
    # duplicate-code would flag the pair only because they share a batch: it is disabled
    one = fixture_file("python/unused_variable.py")
    twin = type(one)(path="copy/unused_variable.py", content=one.content)
    result = analyzer.analyze(inputs(one, twin), [])
    assert [[f.rule for f in r.findings] for r in result.files] == [["W0612"], ["W0612"]]


def test_passing_summary_only_over_marked_files(analyzer: Analyzer) -> None:
    result = analyzer.analyze(inputs(fixture_file("python/unused_variable.py", passed=False),
                                     fixture_file("python/clean.py", passed=True)), [])
    assert result.summary_all["python"].issues == 1
    passing = result.summary_passing["python"]
    assert (passing.files, passing.issues) == (1, 0)


def test_tool_versions_and_config_hash_come_back(analyzer: Analyzer) -> None:
    tools = {t.name: t for t in analyzer.analyze(inputs(fixture_file("python/clean.py")), []).tools}
    assert tools["pylint"].version.startswith("4.1.") and len(tools["pylint"].config_sha256) == 64
    assert tools["lizard"].version and tools["radon"].version
    assert tools["pmd"].config_sha256 and "category/java/design.xml" in tools["pmd"].config


def test_pmd_failure_is_a_per_file_error_not_a_failed_batch(tmp_path) -> None:
    broken = Analyzer(Pmd(tmp_path / "no-pmd-here"))
    result = broken.analyze(inputs(fixture_file("java/UnusedLocal.java"), fixture_file("python/clean.py")), [])
    java, python = result.files
    assert not java.analyzable and java.tool_errors and java.tool_errors[0][0] == "pmd"
    assert python.analyzable  # the rest of the batch still ran
    assert result.summary_all["java"].analyzable_rate == 0.0 and result.summary_all["java"].issues == 0


def test_a_parser_crash_is_that_files_error(analyzer: Analyzer, monkeypatch) -> None:
    from codeeval.analyzer import parsing

    real = parsing.prepare

    def flaky(language, text, wrap_methods=True, **budget):
        if "factor" in text:
            raise RecursionError("maximum recursion depth exceeded")
        return real(language, text, wrap_methods, **budget)

    monkeypatch.setattr(parsing, "prepare", flaky)
    result = analyzer.analyze(inputs(fixture_file("python/unused_variable.py"), fixture_file("python/clean.py")), [])
    crashed, clean = result.files
    assert not crashed.analyzable and crashed.tool_errors == [("parse", "RecursionError: maximum recursion depth "
                                                                        "exceeded")]
    assert clean.analyzable and result.summary_all["python"].analyzable_rate == 0.5


def test_negative_lizard_counts_are_that_files_metrics_error(analyzer: Analyzer) -> None:
    # lizard 1.24 counts a function holding a multi-line f-string at NLOC -2 (a sample of CoderEval's
    # published ChatGPT results); the service's uint32 fields would fail the whole response on it
    text = ('def render(name):\n\tcode = f"""\n\tclass {name}:\n\t\tdef get(self, field):\n'
            '\t\t\treturn {name}[\'{field}\']\n\t"""\n\treturn code\n')
    result = analyzer.analyze(inputs(RawFile("fstring.py", text.encode()), fixture_file("python/clean.py")), [])
    odd, clean = result.files
    assert [t for t, _ in odd.tool_errors] == ["lizard"] and "negative" in odd.tool_errors[0][1]
    assert odd.metrics.functions == [] and odd.metrics.nloc == 0
    assert clean.metrics.functions and not clean.tool_errors
