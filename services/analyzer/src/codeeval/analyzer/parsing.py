"""Parse checks (tree-sitter for Java and C#, ``compile`` for Python) and the study's wrapping of a
bare Java/C# method in a class.

A file counts as analysable only if it (or its wrapped form) parses without any error node. For
Java this tree-sitter check is a pre-check (tree-sitter-java tolerates some non-Java, such as a
top-level method); PMD's own parser then has the last word: a file PMD cannot parse is
unanalysable too. Costs: tree-sitter parses a few hundred lines in well under a millisecond.
"""

from __future__ import annotations

import functools
import re
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


@functools.cache
def _parser(language: str) -> Any:
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


def tree_sitter_error(language: str, text: str, line_offset: int = 0) -> str:
    """Empty string when ``text`` parses cleanly, else a one-line description of the first error
    (its line less ``line_offset``, so that a wrapped file reports the caller's line)."""
    tree = _parser(language).parse(text.encode("utf-8"))
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
    return ""


def has_type_declaration(language: str, text: str) -> bool:
    root = _parser(language).parse(text.encode("utf-8")).root_node
    kinds = _TYPE_DECL[language]
    return any(child.type in kinds for child in root.children)


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


def prepare(language: str, text: str, wrap_methods: bool = True) -> Prepared:
    """Parse-check a file, wrapping a bare Java/C# member in ``class GeneratedCode`` when it has no
    type declaration of its own (as the study did), and re-checking that the wrapped file parses."""
    if language == "python":
        return Prepared(text, False, python_error(text))
    error = tree_sitter_error(language, text)
    if not wrap_methods or has_type_declaration(language, text):
        return Prepared(text, False, error)
    if not error and language == "csharp" and not re.search(r"\b(public|private|protected|internal|static)\b", text):
        return Prepared(text, False, "")  # top-level statements (C# 9) need no class
    wrapped = wrap(text)
    wrapped_error = tree_sitter_error(language, wrapped, WRAP_LINE_OFFSET)
    return Prepared(wrapped, True, f"after wrapping in class {WRAPPER_CLASS}: {wrapped_error}" if wrapped_error else "")
