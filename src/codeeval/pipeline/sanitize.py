"""Parser-based sanitizing of a model's code, in the manner of EvalPlus's sanitizer.

:func:`sanitize` parses the code with tree-sitter (Python, Java, C#), drops what is not code
(prose lines, which parse as errors, are skipped by re-parsing from the next line), and keeps the
top-level definitions:

- Python: imports, functions, classes, variable assignments, and set-up statements (a method call
  such as ``sys.setrecursionlimit(...)``, a loop filling a table) that neither print nor mention a
  function or class of the answer; dropped: ``if __name__ == "__main__":`` blocks, prints, asserts,
  example calls, stray expressions. Every kept statement must also pass :func:`ast.parse`;
- Java: package and imports, type declarations, bare methods and fields; with an entry point, the
  type (or bare method) that defines it and the types/methods it references, without ``main``;
- C#: using directives, namespaces, type declarations and bare methods (no pruning).

With an ``entry_point`` (the function/method the answer must define): Python keeps every function
and class (defining one has no effect, and a test may call a helper the entry point does not) and
only the assignments the definitions mention that do not call the entry point (``result = f(3)`` is
usage); Java keeps the type or method that defines it and what that mentions, transitively. Without
one, every definition and assignment is kept (as EvalPlus does: an assignment may define what the
tests call). Several texts (fenced
blocks) merge: the first is the main one; the others only add names it does not define.

:func:`sanitize` returns None when it finds no definition at all (a body-only completion, a
fragment), or the texts are over :data:`MAX_BYTES`: the caller then keeps its own text. Cost: one
tree-sitter parse per text plus one of the rest per prose line skipped (at most
:data:`MAX_RESTARTS`, and :data:`PARSE_BUDGET` times the text's size in all), and one
:func:`ast.parse` per kept Python statement: about a millisecond for a typical answer, at most
about two seconds for 16 KB of prose.
"""

from __future__ import annotations

import ast
import importlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

from tree_sitter import Language, Node, Parser

#: Re-parses after prose (error) lines per text, at most; what follows is dropped.
MAX_RESTARTS = 64
#: Longer texts are not sanitized (the caller keeps its own extraction): tree-sitter's error
#: recovery is superlinear on prose (seconds for 32 KB of it in Java on a loaded core).
MAX_BYTES = 16 * 1024
#: All parses of one text together read at most this many times its size (plus 16 KB).
PARSE_BUDGET = 4

#: A set-up statement that mentions one of these (or a function/class of the answer) is example usage.
_USAGE = frozenset({"print", "input", "exit", "quit", "pprint"})
_COMMENTS = {"comment", "line_comment", "block_comment"}
_PY_IMPORTS = {"import_statement", "import_from_statement", "future_import_statement"}
_PY_DEFS = {"function_definition", "class_definition"}
_JAVA_HEAD = {"package_declaration", "import_declaration"}
_JAVA_TYPES = {"class_declaration", "interface_declaration", "enum_declaration", "record_declaration",
               "annotation_type_declaration"}
_JAVA_MEMBERS = {"method_declaration", "field_declaration", "constructor_declaration"}
_CS_HEAD = {"using_directive", "extern_alias_directive"}
_CS_TYPES = {"namespace_declaration", "file_scoped_namespace_declaration", "class_declaration",
             "struct_declaration", "interface_declaration", "enum_declaration", "record_declaration",
             "record_struct_declaration", "delegate_declaration"}


@dataclass
class Unit:
    """One kept top-level statement: ``kind`` is ``head`` (imports: always kept), ``setup`` (a call
    on an object, a loop, a ``with``/``if``/``try``: kept unless it mentions a function or class of
    the answer or prints), ``def`` (a function/class/type/method) or ``var``;
    ``names`` are the names it defines, ``refs`` the identifiers it mentions; ``lead`` holds the
    comments right above it (a Javadoc, a marker), kept with it; ``origin`` is the index of its text
    and ``start``/``end`` its byte span there (the comments included)."""

    kind: str
    names: tuple[str, ...]
    text: str
    refs: frozenset[str]
    node: Node | None = None
    lead: str = ""
    origin: int = 0
    start: int = 0
    end: int = 0


_GRAMMARS = {"python": "tree_sitter_python", "java": "tree_sitter_java", "csharp": "tree_sitter_c_sharp"}


@cache
def _parser(language: str) -> Parser:
    if language not in _GRAMMARS:
        raise ValueError(f"no parser for language {language!r}")
    grammar = importlib.import_module(_GRAMMARS[language])
    return Parser(Language(grammar.language()))


def _text(node: Node) -> str:
    return (node.text or b"").decode("utf-8", "replace")


def _identifiers(node: Node) -> frozenset[str]:
    out: set[str] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if n.type in ("identifier", "type_identifier"):
            out.add(_text(n))
        stack.extend(n.children)
    return frozenset(out)


def top_level_nodes(code: str, language: str) -> Iterator[tuple[Node, int]]:
    """The error-free top-level nodes of ``code``, each with the byte offset in ``code`` of the text
    it was parsed from; a node with a parse error (prose, truncated code) is skipped by parsing
    again from the next line that starts at column 0."""
    lines = code.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line.encode("utf-8")))
    start, restarts, budget = 0, 0, PARSE_BUDGET * offsets[-1] + 16 * 1024
    while start < len(lines) and restarts <= MAX_RESTARTS and budget > 0:
        budget -= offsets[-1] - offsets[start]
        tree = _parser(language).parse("".join(lines[start:]).encode("utf-8"))
        for child in tree.root_node.children:
            if child.type != "ERROR" and not child.has_error and not child.is_missing:
                yield child, offsets[start]
                continue
            start = _next_unindented(lines, start + child.start_point[0] + 1)
            restarts += 1
            break
        else:
            return


def _next_unindented(lines: list[str], i: int) -> int:
    """The first line from ``i`` that starts at column 0 (a new top-level statement or prose)."""
    while i < len(lines) and (not lines[i].strip() or lines[i][0] in " \t"):
        i += 1
    return i


def _python_unit(node: Node) -> Unit | None:
    text, refs = _text(node), _identifiers(node)
    try:
        with warnings.catch_warnings():  # invalid escapes in the model's strings are not our concern
            warnings.simplefilter("ignore")
            ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    t = node.type
    if t in _PY_IMPORTS:
        return Unit("head", (), text, refs, node)
    target = node.child_by_field_name("definition") if t == "decorated_definition" else node
    if target is not None and target.type in _PY_DEFS:
        name = target.child_by_field_name("name")
        return Unit("def", (_text(name),) if name else (), text, refs, node)
    if t in ("try_statement", "if_statement", "with_statement", "for_statement", "while_statement"):
        if t == "if_statement" and "__name__" in refs:
            return None
        inner = list(_python_block_names(node))
        has_import = any(_has_type(node, _PY_IMPORTS))
        if has_import:
            return Unit("head", tuple(inner), text, refs, node)
        return Unit("def", tuple(inner), text, refs, node) if inner else Unit("setup", (), text, refs, node)
    if t == "expression_statement" and node.named_child_count == 1:
        expr = node.named_children[0]
        if expr.type in ("assignment", "augmented_assignment"):
            left = expr.child_by_field_name("left")
            names = tuple(sorted(_identifiers(left))) if left is not None else ()
            if left is not None and left.type in ("identifier", "pattern_list", "tuple_pattern"):
                return Unit("var", names, text, refs, node)
            return None
        if expr.type == "call":
            fn = expr.child_by_field_name("function")
            if fn is not None and fn.type == "attribute":
                return Unit("setup", (), text, refs, node)
    return None


def _has_type(node: Node, types: set[str]) -> Iterator[Node]:
    stack = [node]
    while stack:
        n = stack.pop()
        if n.type in types:
            yield n
        stack.extend(n.children)


def _python_block_names(node: Node) -> Iterator[str]:
    for d in _has_type(node, _PY_DEFS):
        name = d.child_by_field_name("name")
        if name is not None:
            yield _text(name)


def _decl_names(node: Node) -> tuple[str, ...]:
    name = node.child_by_field_name("name")
    if name is not None:
        return (_text(name),)
    names = (d.child_by_field_name("name") for d in _has_type(node, {"variable_declarator"}))
    return tuple(_text(n) for n in names if n is not None)


def _java_unit(node: Node) -> Unit | None:
    text, refs = _text(node), _identifiers(node)
    if node.type in _JAVA_HEAD:
        return Unit("head", (), text, refs, node)
    if node.type in _JAVA_TYPES or node.type in _JAVA_MEMBERS:
        return Unit("def", _decl_names(node), text, refs, node)
    if node.type == "local_variable_declaration":
        return Unit("var", _decl_names(node), text, refs, node)
    return None


def _csharp_unit(node: Node) -> Unit | None:
    text, refs = _text(node), _identifiers(node)
    if node.type in _CS_HEAD:
        return Unit("head", (), text, refs, node)
    if node.type in _CS_TYPES:
        return Unit("def", _decl_names(node), text, refs, node)
    if node.type == "global_statement" and node.named_child_count == 1 \
            and node.named_children[0].type == "local_function_statement":
        return Unit("def", _decl_names(node.named_children[0]), text, refs, node)
    return None


_UNIT = {"python": _python_unit, "java": _java_unit, "csharp": _csharp_unit}


def units(code: str, language: str, origin: int = 0) -> list[Unit]:
    """The kept top-level statements of one text, in order (see the module docstring), each with
    the comments directly above it."""
    make = _UNIT[language]
    out: list[Unit] = []
    comments: list[tuple[Node, int]] = []
    for node, base in top_level_nodes(code, language):
        touches = bool(comments) and comments[-1][0].parent == node.parent \
            and comments[-1][0].end_point[0] + 1 >= node.start_point[0]
        if node.type in _COMMENTS:
            comments = [*comments, (node, base)] if touches else [(node, base)]
            continue
        unit = make(node)
        if unit is not None:
            unit.origin, unit.start, unit.end = origin, base + node.start_byte, base + node.end_byte
            if touches:
                unit.lead = "\n".join(_text(c) for c, _ in comments) + "\n"
                unit.start = comments[0][1] + comments[0][0].start_byte
            out.append(unit)
        comments = []
    return out


def _merge(texts: list[str], language: str) -> list[Unit]:
    """The first text's units; the other texts add only heads and definitions of names the first
    does not define (their assignments and statements are usage examples)."""
    merged: list[Unit] = []
    defined: set[str] = set()
    for i, text in enumerate(texts):
        mine = units(text, language, i)
        if i == 0:
            merged = mine
            defined = {n for u in mine for n in u.names}
            continue
        extra = [u for u in mine if u.kind == "head"
                 or (u.kind == "def" and u.names and not defined.intersection(u.names))]
        defined.update(n for u in extra for n in u.names)
        heads = [u for u in extra if u.kind == "head" and u.text not in {m.text for m in merged}]
        merged = [*[u for u in merged if u.kind == "head"], *heads,
                  *[u for u in extra if u.kind != "head"], *[u for u in merged if u.kind != "head"]]
    return merged


def _reachable(kept: list[Unit], roots: list[int]) -> set[int]:
    """Indices of the units the ``roots`` depend on (transitively), themselves included; a name
    defined more than once brings every definition (``f = cache(f)`` keeps both)."""
    by_name: dict[str, list[int]] = {}
    for i, u in enumerate(kept):
        for n in u.names:
            by_name.setdefault(n, []).append(i)
    todo, seen = list(roots), set[int]()
    while todo:
        i = todo.pop()
        if i in seen:
            continue
        seen.add(i)
        todo.extend(j for r in kept[i].refs for j in by_name.get(r, ()) if j not in seen)
    return seen


def _owner(kept: list[Unit], entry_point: str, language: str) -> str | None:
    """The name of the unit that defines ``entry_point``: itself, or (Java, C#) the type whose body
    declares it."""
    if any(entry_point in u.names for u in kept):
        return entry_point
    if language == "python":
        return None
    for u in kept:
        if u.kind == "def" and u.node is not None and u.names and any(
                _decl_names(m) == (entry_point,) for m in _has_type(u.node, {"method_declaration"})):
            return u.names[0]
    return None


def defines(code: str, language: str, name: str) -> bool:
    """Whether ``code`` defines ``name`` at the top level (or, Java/C#, as a method of a top-level type)."""
    return language in _UNIT and _owner(units(code, language), name, language) is not None


def _without_main(unit: Unit) -> str:
    """A Java type's text without its ``main`` methods (example usage)."""
    assert unit.node is not None
    base = unit.node.start_byte
    raw = unit.text.encode("utf-8")
    cuts = [(m.start_byte - base, m.end_byte - base) for m in _has_type(unit.node, {"method_declaration"})
            if _decl_names(m) == ("main",)]
    for start, end in sorted(cuts, reverse=True):
        line_start = raw.rfind(b"\n", 0, start) + 1
        line_end = raw.find(b"\n", end)
        if raw[line_start:start].strip() == b"" and raw[end:line_end if line_end >= 0 else None].strip() == b"":
            start, end = line_start, (line_end + 1 if line_end >= 0 else len(raw))
        raw = raw[:start] + raw[end:]
    return raw.decode("utf-8", "replace")


def sanitize(texts: list[str] | str, language: str, entry_point: str = "") -> str | None:
    """The sanitized code of ``texts`` (one text, or fenced blocks with the main one first), or
    None when there is no definition in them or no parser for ``language`` (the caller keeps its
    own text)."""
    if isinstance(texts, str):
        texts = [texts]
    if language not in _UNIT or sum(len(t.encode("utf-8")) for t in texts) > MAX_BYTES:
        return None
    kept = _merge(texts, language)
    if not any(u.kind == "def" for u in kept):
        return None
    owner = _owner(kept, entry_point, language) if entry_point else None
    own_names = {n for u in kept if u.kind == "def" for n in u.names} | _USAGE
    if owner is not None and language == "python":
        # every function and class stays (a test may call a helper the entry point does not:
        # HumanEval/50's encode_shift); assignments only when a definition needs them and they do
        # not call the entry point (``result = solve(...)`` is usage)
        reach = _reachable(kept, [i for i, u in enumerate(kept) if u.kind == "def"])
        defs = {n for u in kept if u.kind == "def" for n in u.names}
        picked = [u for i, u in enumerate(kept) if u.kind in ("head", "def")
                  or (u.kind == "var" and (bool(defs & set(u.names))
                                           or (i in reach and owner not in u.refs)))
                  or (u.kind == "setup" and not own_names & u.refs)]
    elif owner is not None and language == "java":
        reach = _reachable(kept, [i for i, u in enumerate(kept) if owner in u.names])
        picked = [u for i, u in enumerate(kept) if i in reach or u.kind == "head"]
    elif language == "python":
        picked = [u for u in kept if u.kind != "setup" or not own_names & u.refs]
    else:
        picked = kept
    raw = [t.encode("utf-8") for t in texts]
    parts: list[str] = []
    for i, u in enumerate(picked):
        text = _without_main(u) if (language == "java" and owner is not None and owner != "main"
                                    and owner in u.names and u.node is not None
                                    and u.node.type in _JAVA_TYPES) else u.text
        parts.append(("" if i == 0 else _separator(picked[i - 1], u, raw)) + u.lead + text.rstrip())
    return "".join(parts) + "\n"


def _separator(prev: Unit, unit: Unit, raw: list[bytes]) -> str:
    """What the answer had between two kept units when only white space was there (nothing was
    dropped between them), else a blank line (a newline between imports)."""
    if prev.origin == unit.origin and prev.end <= unit.start:
        gap = raw[unit.origin][prev.end:unit.start]
        if not gap.strip() and b"\n" in gap:
            return gap.decode("utf-8")
    return "\n" if prev.kind == unit.kind == "head" else "\n\n"
