"""Parse checks and wrapping (tree-sitter), and C# parse + lizard through the analyzer."""

from __future__ import annotations

from codeeval.analyzer import parsing
from codeeval.analyzer.analysis import Analyzer

from .conftest import FIXTURES, fixture_file, inputs


def test_java_method_is_wrapped_and_class_is_not() -> None:
    method = parsing.prepare("java", (FIXTURES / "java/method_only.java").read_text())
    assert method.wrapped and method.parse_error == ""
    assert method.text.startswith("public class GeneratedCode {\npublic int twice")
    assert method.original_line(1, 4) is None and method.original_line(2, 4) == 1
    whole = parsing.prepare("java", (FIXTURES / "java/Clean.java").read_text())
    assert not whole.wrapped and whole.parse_error == ""


def test_wrapped_file_must_parse() -> None:
    prepared = parsing.prepare("java", "public int f(int x) { return x +; }")
    assert prepared.wrapped and prepared.parse_error.startswith("after wrapping in class GeneratedCode")


def test_wrapping_can_be_turned_off() -> None:
    # tree-sitter-java tolerates a top-level method; PMD's parser then rejects it (test_java_pmd.py)
    prepared = parsing.prepare("java", "public int f() { return 1; }", wrap_methods=False)
    assert not prepared.wrapped and prepared.text == "public int f() { return 1; }"


def test_csharp_parse_success_and_lizard(analyzer: Analyzer) -> None:
    result = analyzer.analyze(inputs(fixture_file("csharp/method_only.cs"), fixture_file("csharp/broken.cs")), [])
    ok, broken = result.files
    assert ok.analyzable and ok.wrapped and ok.metrics.max_cyclomatic_complexity == 2
    assert [f.name for f in ok.metrics.functions] == ["Twice"]
    assert not broken.analyzable and "line 1" in broken.parse_error
    assert result.summary_all["csharp"].analyzable_rate == 0.5


def test_modern_csharp_parses() -> None:
    text = "public record Point(int X, int Y);\npublic class C { int F(int v) => v switch { 1 => 2, _ => 3 }; }\n"
    assert parsing.prepare("csharp", text).parse_error == ""
