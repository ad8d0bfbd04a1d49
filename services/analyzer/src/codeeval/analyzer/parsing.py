"""Parse checks (tree-sitter for Java and C#, ``compile`` for Python) and the study's wrapping of a
bare Java/C# method in a class.

A file counts as analysable only if it (or its wrapped form) parses without any error node. For
Java this tree-sitter check is a pre-check (tree-sitter-java tolerates some non-Java, such as a
top-level method); PMD's own parser then has the last word: a file PMD cannot parse is
unanalysable too.

Costs: tree-sitter parses a few hundred lines in well under a millisecond and a 256 KiB file of
real Java or C# (CodeXGLUE methods in one class) in 30-60 ms, but its error recovery is superlinear
on some adversarial text (C# ``/* `` repeated: 52 s at 20 KB, ~x4 per doubling). Every parse is
therefore bounded by a budget (``budget_ms``, the analyzer's ``PARSE_TIMEOUT_MS``); a file whose
parse runs out of it is unanalysable with a parse error saying so (:data:`GAVE_UP`). A file costs at
most two parses (its own text, and its wrapped form when it has no type declaration).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

WRAPPER_CLASS = "GeneratedCode"
# The wrapper adds exactly one line before the snippet and one after it.
WRAP_LINE_OFFSET = 1

_TYPE_DECL = {
    "java": {"class_declaration", "interface_declaration", "enum_declaration", "record_declaration",
             "annotation_type_declaration"},
    "csharp": {"class_declaration", "interface_declaration", "enum_declaration", "record_declaration",
               "struct_declaration", "namespace_declaration", "file_scoped_namespace_declaration",
               "delegate_declaration"},
}
_GRAMMAR_PACKAGE = {"java": "tree-sitter-java", "csharp": "tree-sitter-c-sharp", "python": "tree-sitter-python"}
#: Default budget of one parse: ~30x the 256 KiB real files above, for a loaded machine.
DEFAULT_BUDGET_MS = 2000
#: The parse error of a file whose parse ran out of its budget (format with ``ms``).
GAVE_UP = "parse check: tree-sitter gave up after {ms} ms on this file"
_local = threading.local()  # a tree-sitter Parser is not safe to share between threads


class ParseTimeout(Exception):
    """A parse ran out of its budget (the message is :data:`GAVE_UP`)."""

    def __init__(self, budget_ms: int) -> None:
        super().__init__(GAVE_UP.format(ms=budget_ms))
        self.budget_ms = budget_ms


def _parser(language: str) -> Any:
    """This thread's parser for ``language`` (made once per thread and language)."""
    parsers: dict[str, Any] = _local.__dict__.setdefault("parsers", {})
    if language not in parsers:
        parsers[language] = _new_parser(language)
    return parsers[language]


def _new_parser(language: str) -> Any:
    from tree_sitter import Language, Parser

    if language == "java":
        import tree_sitter_java

        grammar = tree_sitter_java.language()
    elif language == "csharp":
        import tree_sitter_c_sharp

        grammar = tree_sitter_c_sharp.language()
    else:
        import tree_sitter_python

        grammar = tree_sitter_python.language()
    return Parser(Language(grammar))


def grammar_version(language: str) -> str:
    return f"tree-sitter {version('tree-sitter')}, {_GRAMMAR_PACKAGE[language]} {version(_GRAMMAR_PACKAGE[language])}"


def parse(language: str, text: str, budget_ms: int = DEFAULT_BUDGET_MS) -> Any:
    """The tree of ``text``; raises :class:`ParseTimeout` when the parse runs past ``budget_ms``
    (wall clock, checked by tree-sitter as it goes, so a parse never runs much longer)."""
    if budget_ms <= 0:
        raise ValueError(f"budget_ms must be positive, got {budget_ms}")
    data = text.encode("utf-8")
    parser = _parser(language)
    parser.timeout_micros = budget_ms * 1000
    try:
        return parser.parse(data)
    except ValueError:  # py-tree-sitter 0.22 reports a parse that hit its timeout as "Parsing failed"
        parser.reset()  # else the next parse would resume this one
        raise ParseTimeout(budget_ms) from None


def _first_error(node: Any) -> Any | None:
    if node.type == "ERROR" or node.is_missing:
        return node
    if not node.has_error:
        return None
    for child in node.children:
        found = _first_error(child)
        if found is not None:
            return found
    return node


def tree_sitter_error(language: str, text: str, line_offset: int = 0, budget_ms: int = DEFAULT_BUDGET_MS) -> str:
    """Empty string when ``text`` parses cleanly, else a one-line description of the first error
    (its line less ``line_offset``, so that a wrapped file reports the caller's line). Raises
    :class:`ParseTimeout` past ``budget_ms``."""
    return _error_of(parse(language, text, budget_ms), line_offset)


def _error_of(tree: Any, line_offset: int = 0) -> str:
    bad = _first_error(tree.root_node)
    if bad is None:
        return ""
    line, col = bad.start_point
    what = f"missing {bad.type}" if bad.is_missing else "syntax error"
    return f"{what} at line {max(1, line + 1 - line_offset)}, column {col + 1}"


def python_error(text: str) -> str:
    """Empty when CPython compiles ``text`` (the interpreter pylint runs on), else the SyntaxError."""
    try:
        compile(text, "<file>", "exec", dont_inherit=True)
    except SyntaxError as exc:
        return f"{exc.msg} at line {exc.lineno or 0}, column {exc.offset or 0}"
    except ValueError as exc:  # null bytes
        return str(exc)
    except (RecursionError, MemoryError) as exc:  # too deep for the compiler: a+a+...+a, long elif chains
        return f"too deeply nested for CPython's compiler: {type(exc).__name__}: {exc}"
    return ""


def has_type_declaration(language: str, text: str, budget_ms: int = DEFAULT_BUDGET_MS) -> bool:
    """Whether ``text`` declares a type at its top level. Raises :class:`ParseTimeout` past ``budget_ms``."""
    return _declares_type(language, parse(language, text, budget_ms))


def _declares_type(language: str, tree: Any) -> bool:
    kinds = _TYPE_DECL[language]
    return any(child.type in kinds for child in tree.root_node.children)


@dataclass(frozen=True)
class Prepared:
    """What the tools see: ``text`` (possibly wrapped), whether it was wrapped, and a parse error."""

    text: str
    wrapped: bool
    parse_error: str

    def original_line(self, line: int, original_lines: int) -> int | None:
        """Map a line of :attr:`text` back to the caller's file; None for the wrapper's own lines."""
        if not self.wrapped:
            return line
        mapped = line - WRAP_LINE_OFFSET
        return mapped if 1 <= mapped <= original_lines else None


def wrap(text: str) -> str:
    return f"public class {WRAPPER_CLASS} {{\n{text.rstrip()}\n}}\n"


def prepare(language: str, text: str, wrap_methods: bool = True, budget_ms: int = DEFAULT_BUDGET_MS) -> Prepared:
    """Parse-check a file, wrapping a bare Java/C# member in ``class GeneratedCode`` when it has no
    type declaration of its own (as the study did), and re-checking that the wrapped file parses.

    Each tree-sitter parse (at most two) is bounded by ``budget_ms``; a parse that runs out of it
    makes the file unanalysable with the parse error :data:`GAVE_UP` (never an exception)."""
    if language == "python":
        return Prepared(text, False, python_error(text))
    try:
        tree = parse(language, text, budget_ms)
    except ParseTimeout as exc:
        return Prepared(text, False, str(exc))
    error = _error_of(tree)
    if not wrap_methods or _declares_type(language, tree):
        return Prepared(text, False, error)
    if not error and language == "csharp" and not re.search(r"\b(public|private|protected|internal|static)\b", text):
        return Prepared(text, False, "")  # top-level statements (C# 9) need no class
    wrapped = wrap(text)
    try:
        wrapped_error = tree_sitter_error(language, wrapped, WRAP_LINE_OFFSET, budget_ms)
    except ParseTimeout as exc:
        return Prepared(wrapped, True, f"after wrapping in class {WRAPPER_CLASS}: {exc}")
    return Prepared(wrapped, True, f"after wrapping in class {WRAPPER_CLASS}: {wrapped_error}" if wrapped_error else "")
