"""The Java runner's source checks (runners/java_source.py, java.public_type, the Security Manager
banner) read the largest accepted sources of every shape that made them quadratic (a test of 150 KiB
of newlines took 78 s), and give the results of the one-regex forms they replaced, which are kept
here as the reference on small texts. No JVM: pure functions."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from codeeval.sandbox.runners import java, java_source
from codeeval.sandbox.runners.java_source import JavaIndex

#: The largest source a request may carry (SandboxSettings.max_source_bytes' default).
SIZE = 256 << 10
INDEX = JavaIndex({"java.util": frozenset({"List", "Arrays"}), "java.lang": frozenset({"String"})},
                  {"java.util": frozenset({"List", "Arrays"})})
#: The declaration regex the backward modifier scan replaced (quadratic on a run of modifiers).
REFERENCE_DECL = re.compile(r"(?<![\w$.])((?:(?:public|protected|private|abstract|final|static|strictfp|sealed|"
                            r"non-sealed)\s+)*)(class|interface|enum|record|@\s*interface)\s+([A-Za-z_$][\w$]*)")
REFERENCE_PACKAGE = re.compile(r"\bpackage\s+[\w$.\s]+;")
TOKENS = ["public", "final", "static", "sealed", "non-sealed", "xnon-sealed", "abstract", "class", "interface",
          "enum", "record", "@interface", "@", "A", "B", "x.", ".", "-", "$x", "{", "}", "package", "p.q", ";",
          "import", "java.util.*", "//c\n", "/*c*/", '"s"', "'c'", "é"]


def reference_top_level(code: str) -> list[tuple[str, int, bool]]:
    depths = java_source._depths(code)
    return [(m.group(3), m.start(2), "public" in m.group(1).split())
            for m in REFERENCE_DECL.finditer(code) if depths[m.start()] == 0]


def reference_strip_package(text: str) -> str:
    code = java_source.blank(text)
    m = REFERENCE_PACKAGE.search(code)
    return java_source._blank_span(text, m.start(), m.end()) if m and not code[:m.start()].strip() else text


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(TOKENS), st.sampled_from(["", " ", "\n", "\t"])), max_size=30))
def test_declarations_and_package_agree_with_the_one_regex_forms(parts: list[tuple[str, str]]):
    text = "".join(t + sep for t, sep in parts)
    code = java_source.blank(text)
    assert java_source.top_level_types(code) == reference_top_level(code)
    assert java_source.declared_types(code) == {m.group(3) for m in REFERENCE_DECL.finditer(code)}
    assert java_source.strip_package(text) == reference_strip_package(text)


def test_unterminated_literals_and_comments_are_blanked_to_their_end():
    # javac rejects them; blanking them to the end of their line (strings) or text (comments) is what
    # keeps every match attempt from failing after a long scan (one failed scan per quote: O(n^2))
    assert java_source.blank('int a; "ab\\"c\nint b;') == "int a;       \nint b;"
    assert java_source.blank("int a; 'x\nint b;") == "int a;   \nint b;"
    assert java_source.blank("int a; /* open\nint b;") == "int a;        \n      "
    assert java_source.blank('int a; """ open\nint b;') == "int a; " + " " * 8 + "\n      "
    assert java_source.blank('"\\' * 4 + "\n") == " " * 8 + "\n"


def test_the_largest_sources_of_the_quadratic_shapes_are_read():
    assert java.public_type("\n" * SIZE) is None and java.public_type(" \n" * (SIZE // 2)) is None
    assert java.public_type("\n" * SIZE + "public final class Main {}") == "Main"
    units = java_source.rewrite("public\n" * (SIZE // 7) + "class Solution {}", "", "c0", "t0", INDEX)
    assert units.candidate_file == "Solution.java"
    assert java_source.declared_types(java_source.blank("public static final " * (SIZE // 20))) == set()
    assert java_source.strip_package("package " * (SIZE // 8)) == "package " * (SIZE // 8)
    assert java_source.strip_package("\n" * SIZE + "package a.b; class A {}").endswith("            class A {}")
    assert set(java_source.blank('"\\' * (SIZE // 2) + "\n")) == {" ", "\n"}
    assert set(java_source.blank("/* " * (SIZE // 3))) == {" "}
    noise = b"WARNING: JudgePolicy " * (SIZE // 21)
    assert java._SM_BANNER.sub(b"", noise, count=1) == noise
    assert java._attribute("\n" * SIZE + "/src/c3/A.java:1: error: x\n") == {3: "A.java:1: error: x"}


def test_the_banner_is_stripped_only_at_a_line_start():
    notice = b"WARNING: System::setSecurityManager has been called by codeeval.judge.JudgePolicy\n"
    assert java._SM_BANNER.sub(b"", b"x " + notice, count=1) == b"x " + notice
    assert java._SM_BANNER.sub(b"", notice + b"rest\n", count=1) == b"rest\n"
