"""The C# runner's source rewriting (runners/csharp_source.py) reads the largest accepted test of every
shape that made its literal scan quadratic (``"\\`` repeated: 1.5 s at 20 KB), and blanks exactly what
the regex it replaced blanked on every text without an unterminated literal or comment; that regex is
kept here as the reference. On a text with one (mcs's error), the literal now runs to the end of its
line (strings, chars) or of the text (comments, verbatim strings). Pure functions, and one real run
(mono in the bubblewrap sandbox) of the largest such tests, which mcs rejects."""

from __future__ import annotations

import re
import shutil

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codeeval.kit.paths import datasets_dir
from codeeval.sandbox.executor import Executor
from codeeval.sandbox.model import Language, Outcome, RunRequest
from codeeval.sandbox.runners import csharp_source

#: The largest test a request may carry (SandboxSettings.max_source_bytes' default).
SIZE = 256 << 10
TRANS = datasets_dir() / "codexglue_code_to_code_trans"
#: The literal regex the linear one replaced (an unterminated literal failed after scanning to its end).
REFERENCE_LITERALS = re.compile(r'//[^\n]*|/\*.*?\*/|@"(?:""|[^"])*"|\$?"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'',
                                re.S)
TOKENS = ['"', "'", "\\", "@", "$", "/", "*", "/*", "*/", "//", '""', '@"', '$"', '"s"', "'c'", "'\\''", '"\\""',
          '@"a""b"', '$"{x}"', "x", "Debug.Assert(", "Trace.Fail(", "System.Diagnostics.", "global::", ";", "é"]


def reference_blank(text: str) -> str:
    return REFERENCE_LITERALS.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)


def unterminated(reference_blanked: str) -> bool:
    """Whether the reference left an opener unmatched: it blanks every literal and comment it closes,
    so a quote or ``/*`` that survives it began one that it found no end for."""
    return any(opener in reference_blanked for opener in ('"', "'", "/*"))


def check_against_reference(text: str) -> None:
    got, want = csharp_source.blank(text), reference_blank(text)
    if not unterminated(want):
        assert got == want
        return
    # by design: the unterminated literal or comment is blanked to its end, so no opener survives,
    # and what is kept is the text's own character at the same place, newlines included
    assert len(got) == len(text) and not unterminated(got)
    assert all(g == t or (g == " " and t != "\n") for g, t in zip(got, text, strict=True))


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(TOKENS), st.sampled_from(["", " ", "\n", "\t"])), max_size=30))
def test_blank_agrees_with_the_reference_regex_and_differs_only_after_an_unterminated_literal(
        parts: list[tuple[str, str]]):
    check_against_reference("".join(t + sep for t, sep in parts))


@pytest.mark.skipif(not (TRANS / "test.java-cs.txt.cs").is_file(),
                    reason="needs CodeXGLUE code-to-code-trans in the datasets folder ($CODEEVAL_DATASETS_DIR)")
def test_blank_and_test_text_agree_with_the_reference_on_codexglue_csharp():
    for split in ("valid", "test"):
        text = (TRANS / f"{split}.java-cs.txt.cs").read_text(encoding="utf-8")
        assert csharp_source.blank(text) == reference_blank(text)
        assert not unterminated(reference_blank(text))
        for line in text.splitlines():
            check_against_reference(line)


def test_unterminated_literals_and_comments_are_blanked_to_their_end():
    assert csharp_source.blank('int a; "ab\\"c\nint b;') == "int a; " + " " * 6 + "\nint b;"
    assert csharp_source.blank("int a; 'x\nint b;") == "int a; " + " " * 2 + "\nint b;"
    assert csharp_source.blank('int a; $"x{y}\nint b;') == "int a; " + " " * 6 + "\nint b;"
    assert csharp_source.blank("int a; /* open\nint b;") == "int a; " + " " * 7 + "\n" + " " * 6
    assert csharp_source.blank('int a; @" open\nint b; "" x') == "int a; " + " " * 7 + "\n" + " " * 11
    assert csharp_source.blank('"\\' * 4 + "\n") == " " * 8 + "\n"
    # a closed literal is unchanged, quotes doubled in a verbatim string and escaped in a regular one
    assert csharp_source.blank('s = @"a""b\nc"; t = "d\\"e";') == "s = " + " " * 6 + "\n" + "  ; t = " + " " * 6 + ";"


def test_the_largest_tests_of_the_quadratic_shapes_are_read():
    for shape in ('"\\', "'\\", '$"\\', "/* ", '@"', '"', "'"):
        blanked = csharp_source.blank(shape * (SIZE // len(shape)) + "\n")
        assert not unterminated(blanked) and blanked.endswith("\n") and blanked.count("\n") == 1, shape
    assert set(csharp_source.blank('"\\' * (SIZE // 2) + "\n")) == {" ", "\n"}
    assert set(csharp_source.blank('$"\\' * (SIZE // 3) + "\n")) == {" ", "\\", "\n"}  # $"\$" then a lone backslash
    for shape in ("\n", " ", "{", "Debug ", "Debug\n", "System . ", "global :: ", "Debug . ", "Trace.Assert"):
        text = shape * (SIZE // len(shape))
        assert csharp_source.test_text(text).count("CodeevalJudge") == 0, shape
    assert csharp_source.blank("x" * SIZE + '"' + "y" * SIZE) == "x" * SIZE + " " * (SIZE + 1)
    asserts = "Debug.Assert(true);\n" * (SIZE // 20)
    assert csharp_source.test_text(asserts).count("global::CodeevalJudge.Check.Assert(") == SIZE // 20


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.skipif(shutil.which("mcs") is None, reason="mono-mcs not installed")
async def test_the_largest_unterminated_tests_are_compile_errors_in_the_real_runner(engine: Executor):
    solution = "public class Calc { public static int Add(int a, int b) { return a + b; } }\n"
    test = ("using System.Diagnostics;\npublic static class Tests { public static void Main() { "
            "Debug.Assert(Calc.Add(2, 3) == 5); } }\n")
    bad = [test + '"\\' * ((SIZE - len(test)) // 2), test + "/* " * ((SIZE - len(test)) // 3),
           test.replace("Main() {", 'Main() { var s = @"') + "x" * (SIZE - len(test) - 20)]
    reqs = [RunRequest(Language.CSHARP, solution, test, entry_point="Tests")]
    reqs += [RunRequest(Language.CSHARP, solution, t, entry_point="Tests") for t in bad]
    got = {}
    async for i, res in engine.execute_batch(reqs):
        got[i] = res
    assert got[0].outcome is Outcome.PASSED, got[0].detail
    for i in range(1, len(reqs)):
        assert got[i].outcome is Outcome.COMPILE_ERROR and got[i].compile_output, (i, got[i].outcome, got[i].detail)
