"""Java source rewriting for the runner: the candidate alone in its package, the test in another.

A test sees the candidate only through single-type imports of the candidate types it names that
nothing else provides (java.lang, its own imports, its own declarations), so a candidate ``class
Arrays`` cannot hide ``java.util.Arrays``. On-demand imports of JDK packages (the test's own and the
prompt's, which HumanEval-X tests rely on and which arrive in the candidate's text) become the
single-type imports of the names the test uses; any other on-demand import stays (the candidate can
put nothing in another package). Line numbers are kept: new text goes on the first line, removed
statements become blanks. Cost: a few regular-expression passes over each text.

Residual: a test reaches only candidate types that are, or can be made, public; at most one
top-level candidate type is made public (a Java file holds one), and candidate members the test calls
must be public (HumanEval-X declares them so).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Comments and literals. An unterminated one (javac's error) runs to the end of its line (strings,
#: chars) or of the text (comments, text blocks), so that no match attempt fails after a long scan:
#: a failed attempt restarted at each of n quotes was O(n^2) (``"\\`` repeated: 15 s at 20 KB).
_LITERALS = re.compile(r'//[^\n]*|/\*.*?(?:\*/|\Z)|"""[\s\S]*?(?:"""|\Z)|"(?:\\.|[^"\\\n])*"?|\'(?:\\.|[^\'\\\n])*\'?',
                       re.S)
_IMPORT = re.compile(r"\bimport\s+(static\s+)?([A-Za-z_$][\w$]*(?:\s*\.\s*[A-Za-z_$][\w$]*)*)(\s*\.\s*\*)?\s*;")
_PACKAGE = re.compile(r"package\s+[\w$.\s]+;")
_MODIFIERS = frozenset({"public", "protected", "private", "abstract", "final", "static", "strictfp", "sealed",
                        "non-sealed"})
#: A type's keyword and name; its modifiers are read backwards from the keyword (``_modifiers``). One
#: regex with the modifiers in front restarted at each of n modifiers and rescanned the rest: O(n^2).
_TYPE_KEYWORD = re.compile(r"(?<![\w$.])(class|interface|enum|record|@\s*interface)\s+([A-Za-z_$][\w$]*)")
_FIRST_TOKEN = re.compile(r"\s*")
_NOT_NEWLINE = re.compile(r"[^\n]")
_IDENT = re.compile(r"(?<![\w$])[A-Za-z_$][\w$]*")


@dataclass(frozen=True)
class JavaIndex:
    """``public``: JDK package -> its public top-level types (java.se, exported to everyone).
    ``names``: every package an on-demand import may name -> the type names it may provide (the JDK's
    and the JUnit jars'), used only to keep candidate types out of the test's namespace."""

    public: dict[str, frozenset[str]]
    names: dict[str, frozenset[str]]


@dataclass(frozen=True)
class _Import:
    start: int
    end: int
    static: bool
    name: str
    on_demand: bool


@dataclass(frozen=True)
class Units:
    """The rewritten texts of one candidate: its file name, candidate text and test text."""

    candidate_file: str
    candidate: str
    test: str
    exposed: tuple[str, ...]


def _spaces(m: re.Match[str]) -> str:
    found = m.group(0)
    return _NOT_NEWLINE.sub(" ", found) if "\n" in found else " " * len(found)


def blank(text: str) -> str:
    """``text`` with comments and string/char literals replaced by spaces (newlines kept). Linear."""
    return _LITERALS.sub(_spaces, text)


def _blank_span(text: str, start: int, end: int) -> str:
    return text[:start] + _NOT_NEWLINE.sub(" ", text[start:end]) + text[end:]


def _imports(code: str) -> list[_Import]:
    out = []
    for m in _IMPORT.finditer(code):
        out.append(_Import(m.start(), m.end(), bool(m.group(1)), re.sub(r"\s+", "", m.group(2)), bool(m.group(3))))
    return out


def _depths(code: str) -> list[int]:
    depth, out = 0, []
    for ch in code:
        out.append(depth)
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth = max(0, depth - 1)
    return out


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch in "_$"


def _after_word(code: str, i: int) -> bool:
    """``code[i]`` follows an identifier's character or a dot (so it does not begin a modifier)."""
    return i > 0 and (_is_word(code[i - 1]) or code[i - 1] == ".")


def _modifiers(code: str, keyword: int, floor: int) -> list[str]:
    """The modifiers written right before the type keyword at ``keyword`` and after ``floor`` (the end of
    the previous declaration's name): each a whole word (not after a ``.``) followed by whitespace.
    Reads back from the keyword over its own modifiers only, so the reads of all of a text's keywords
    together touch each character at most twice."""
    found: list[str] = []
    end = keyword
    while True:
        gap = end
        while gap > floor and code[gap - 1].isspace():
            gap -= 1
        start = gap
        while start > floor and _is_word(code[start - 1]):
            start -= 1
        word = code[start:gap]
        non = start - 4
        if word == "sealed" and non >= floor and code[non:start] == "non-" and not _after_word(code, non):
            word, start = "non-sealed", non
        if gap == end or word not in _MODIFIERS or _after_word(code, start):
            return found
        found.append(word)
        end = start


def top_level_types(code: str) -> list[tuple[str, int, bool]]:
    """(name, offset of its keyword, declared public) of each top-level type in blanked ``code``.
    Linear in the text's length."""
    depths = _depths(code)
    found = []
    floor = 0
    for m in _TYPE_KEYWORD.finditer(code):
        if depths[m.start()] == 0:
            found.append((m.group(2), m.start(1), "public" in _modifiers(code, m.start(1), floor)))
        floor = m.end()
    return found


def declared_types(code: str) -> set[str]:
    """The names of every type declared in blanked ``code`` (any depth). Linear in its length."""
    return {m.group(2) for m in _TYPE_KEYWORD.finditer(code)}


def strip_package(text: str) -> str:
    """``text`` with its package clause blanked, when the clause is the first thing in it. One anchored
    match at the first token (a search restarted at each ``package`` word of a long text: O(n^2))."""
    code = blank(text)
    first = _FIRST_TOKEN.match(code)
    m = _PACKAGE.match(code, first.end() if first else 0)
    return _blank_span(text, m.start(), m.end()) if m else text


def rewrite(candidate: str, test: str, cand_pkg: str, test_pkg: str, index: JavaIndex) -> Units:
    """The candidate in ``cand_pkg`` and the test in ``test_pkg`` (see the module docstring)."""
    candidate = strip_package(candidate)
    test = strip_package(test)
    cand_code, test_code = blank(candidate), blank(test)
    cand_types = top_level_types(cand_code)
    test_imports = _imports(test_code)
    for imp in reversed(test_imports):
        test = _blank_span(test, imp.start, imp.end)
    test_body = blank(test)
    used = set(_IDENT.findall(test_body))
    own = declared_types(test_body)
    carried = [i for i in _imports(cand_code) if not i.static and _jdk_import(i, index)]
    kept: list[str] = []
    single: set[str] = set()
    on_demand: list[str] = []
    for imp, from_test in [*((i, True) for i in test_imports), *((i, False) for i in carried)]:
        if imp.on_demand and not imp.static and imp.name in index.public:
            on_demand.append(imp.name)
        elif imp.on_demand or imp.static:
            if from_test:
                kept.append(f"import {'static ' if imp.static else ''}{imp.name}{'.*' if imp.on_demand else ''};")
            if not imp.static:
                on_demand.append(imp.name)
        else:
            simple = imp.name.rsplit(".", 1)[-1]
            if (from_test or simple in used) and simple not in single:
                single.add(simple)
                kept.append(f"import {imp.name};")
    expanded: list[str] = []
    for pkg in dict.fromkeys(on_demand):
        if pkg == "java.lang" or pkg not in index.public:
            continue
        for name in sorted((used - own - single) & index.public[pkg]):
            expanded.append(f"import {pkg}.{name};")
    provided = set(index.public.get("java.lang", ())) | single | own
    for pkg in on_demand:
        provided |= index.names.get(pkg, frozenset())
    exposed = tuple(n for n, _, _ in cand_types if n in used and n not in provided)
    candidate, file_name = _publish(candidate, cand_types, exposed)
    imports = " ".join([*kept, *dict.fromkeys(expanded), *(f"import {cand_pkg}.{n};" for n in exposed)])
    return Units(file_name, f"package {cand_pkg}; {candidate}", f"package {test_pkg}; {imports} {test}", exposed)


def _jdk_import(imp: _Import, index: JavaIndex) -> bool:
    if imp.on_demand:
        return imp.name in index.public
    pkg, _, simple = imp.name.rpartition(".")
    return simple in index.public.get(pkg, frozenset())


def _publish(candidate: str, types: list[tuple[str, int, bool]], exposed: tuple[str, ...]) -> tuple[str, str]:
    """Make the first exposed type public when the candidate has no public type; the file name."""
    public = [n for n, _, is_public in types if is_public]
    if public:
        return candidate, f"{public[0]}.java"
    for name, offset, _ in types:
        if name in exposed:
            return candidate[:offset] + "public " + candidate[offset:], f"{name}.java"
    return candidate, f"{types[0][0]}.java" if types else "Candidate.java"
