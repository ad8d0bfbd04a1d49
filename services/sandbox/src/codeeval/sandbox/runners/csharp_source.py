"""C# source rewriting for the runner: the candidate a library in its own namespace, the test another.

The candidate's text goes into ``namespace CodeevalCandidate { ... }`` (its own ``using`` directives
are legal there) and is compiled alone into ``candidate.dll``, with ``InternalsVisibleTo("tests")`` so
a test still reaches C#'s default-internal types. The test's text goes into ``namespace CodeevalTests
{ using CodeevalCandidate; ... }``: its own ``using`` directives sit beside that one, so a candidate
type named like a framework type the test uses is an ambiguity (a compile error), never a silent
replacement; names the test qualifies (``System.Exception``) resolve from the global namespace, which
holds no candidate type. ``Debug.Assert``/``Trace.Assert``/``Debug.Fail`` in the test become the
judge's ``global::CodeevalJudge.Check`` (mono compiles Debug calls away without DEBUG and its
listeners can be cleared). Line numbers are kept (new text goes on the first and last lines).

Residual: ``[assembly: ...]`` attributes and ``extern alias`` in the candidate do not compile inside
a namespace; a test that imports a namespace the candidate declares does not find it.
"""

from __future__ import annotations

import re

CANDIDATE_NAMESPACE = "CodeevalCandidate"
TEST_NAMESPACE = "CodeevalTests"
TEST_ASSEMBLY = "tests"
INTERNALS = f'[assembly: global::System.Runtime.CompilerServices.InternalsVisibleTo("{TEST_ASSEMBLY}")]\n'
#: Comments and literals. An unterminated one (mcs's error) runs to the end of its line (strings, chars)
#: or of the text (comments, verbatim strings), so that no match attempt fails after a long scan: a
#: failed attempt restarted at each of n quotes was O(n^2) (``"\\`` repeated: 1.5 s at 20 KB).
_LITERALS = re.compile(r'//[^\n]*|/\*.*?(?:\*/|\Z)|@"(?:""|[^"])*(?:"|\Z)|\$?"(?:\\.|[^"\\\n])*"?'
                       r"|'(?:\\.|[^'\\\n])*'?", re.S)
_NOT_NEWLINE = re.compile(r"[^\n]")
_ASSERT = re.compile(r"(?<![\w.])(?:global\s*::\s*)?(?:System\s*\.\s*Diagnostics\s*\.\s*)?(?:Debug|Trace)\s*\.\s*"
                     r"(Assert|Fail)\s*\(")


def _spaces(m: re.Match[str]) -> str:
    found = m.group(0)
    return _NOT_NEWLINE.sub(" ", found) if "\n" in found else " " * len(found)


def blank(text: str) -> str:
    """``text`` with comments and string/char literals replaced by spaces (newlines kept). Linear in
    its length; an unterminated literal or comment is blanked to the end of its line or of the text."""
    return _LITERALS.sub(_spaces, text)


def candidate_text(source: str) -> str:
    return f"namespace {CANDIDATE_NAMESPACE} {{ {source}\n}}\n"


def test_text(test: str) -> str:
    """The test in its namespace with every Debug/Trace assertion turned into the judge's."""
    code = blank(test)
    out, last = [], 0
    for m in _ASSERT.finditer(code):
        out += [test[last:m.start()], f"global::CodeevalJudge.Check.{m.group(1)}("]
        last = m.end()
    out.append(test[last:])
    return f"namespace {TEST_NAMESPACE} {{ using {CANDIDATE_NAMESPACE}; {''.join(out)}\n}}\n"


def entry_type(entry_point: str, namespace: str = TEST_NAMESPACE) -> str:
    """The exact full name the judge looks up (empty: the assembly's only type with a Main)."""
    return f"{namespace}.{entry_point}" if entry_point else ""
