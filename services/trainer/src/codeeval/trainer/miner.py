"""Code-to-summary miner: (function without its docstring, first sentence of the docstring) pairs
from a local Python or Java source tree, or a zip of one (the JDK's own ``lib/src.zip``, which
Debian's ``openjdk-17-source`` installs), so teams can build summarization data from their own code.

The docstring (Python) or Javadoc (Java) is removed from the input, so the reference never leaks
into the input (the study's Python summarization set kept it in 99 of 100 inputs). Files are
walked in sorted order, so the output is deterministic. Cost: one parse per file.

Run: ``python -m codeeval.trainer.miner SRC_DIR --language python > pairs.jsonl``; read the
result with the ``jsonl`` reader (fields ``{code: code}``, target ``summary``).
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
import textwrap
import zipfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from codeeval.kit import languages

MIN_SUMMARY_WORDS = 3
MAX_CODE_CHARS = 4000


@dataclass(frozen=True)
class MinedPair:
    path: str
    name: str
    code: str
    summary: str


def first_sentence(doc: str) -> str:
    """The docstring's first paragraph up to the first sentence end, whitespace collapsed."""
    para = re.split(r"\n\s*\n", doc.strip(), maxsplit=1)[0]
    para = " ".join(para.split())
    match = re.search(r"(?<=[.!?])\s", para)
    return para[: match.start()] if match else para


def _python_pairs(source: str, rel: str) -> Iterator[MinedPair]:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return
    lines = source.splitlines(keepends=True)
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        doc = ast.get_docstring(node)
        if not doc or len(node.body) < 2 or node.end_lineno is None:
            continue
        summary = first_sentence(doc)
        if len(summary.split()) < MIN_SUMMARY_WORDS:
            continue
        doc_node = node.body[0]
        start = (node.decorator_list[0].lineno if node.decorator_list else node.lineno) - 1
        kept = lines[start: doc_node.lineno - 1] + lines[doc_node.end_lineno or doc_node.lineno: node.end_lineno]
        code = textwrap.dedent("".join(kept)).rstrip()
        if len(code) <= MAX_CODE_CHARS:
            yield MinedPair(rel, node.name, code, summary)


def remove_python_docstrings(code: str) -> str:
    """``code`` with every function/class/module docstring removed; unparsable code is returned
    unchanged (a summarization input must still be usable)."""
    source = textwrap.dedent(code)
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return code
    lines = source.splitlines(keepends=True)
    drop: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and body
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str) and len(body) > 1):
            drop.update(range(body[0].lineno - 1, body[0].end_lineno or body[0].lineno))
    return "".join(line for i, line in enumerate(lines) if i not in drop).rstrip()


_JAVADOC_METHOD = re.compile(
    r"/\*\*(?P<doc>(?:(?!\*/).)*?)\*/\s*(?P<sig>(?:@\w+(?:\([^)]*\))?\s*)*"
    r"(?:(?:public|protected|private|static|final|synchronized|abstract|native|default)\s+)*"
    r"[\w<>\[\],.? ]+\s+(?P<name>\w+)\s*\([^;{)]*\)\s*(?:throws\s+[\w.,\s]+)?)\{",
    re.S,
)


def _javadoc_text(doc: str) -> str:
    lines = [re.sub(r"^\s*\*\s?", "", line) for line in doc.splitlines()]
    text = "\n".join(line for line in lines)
    text = re.split(r"\n\s*@\w+", "\n" + text.strip(), maxsplit=1)[0]
    text = re.sub(r"\{@\w+\s+([^}]*)\}", r"\1", text)
    return re.sub(r"<[^>]+>", "", text).strip()


def _java_pairs(source: str, rel: str) -> Iterator[MinedPair]:
    for m in _JAVADOC_METHOD.finditer(source):
        depth, i = 0, m.end() - 1
        while i < len(source):
            depth += {"{": 1, "}": -1}.get(source[i], 0)
            if depth == 0:
                break
            i += 1
        if depth != 0:
            continue
        summary = first_sentence(_javadoc_text(m.group("doc")))
        sig_start = m.start("sig")
        line_start = source.rfind("\n", 0, sig_start) + 1
        indent = " " * (len(source[line_start:sig_start].expandtabs(4)))
        code = textwrap.dedent(indent + m.group("sig").strip() + " " + source[m.end() - 1: i + 1]).strip()
        if len(summary.split()) >= MIN_SUMMARY_WORDS and len(code) <= MAX_CODE_CHARS:
            yield MinedPair(rel, m.group("name"), code, summary)


def _sources(root: Path, suffix: str) -> Iterator[tuple[str, str]]:
    """(relative path, text) of every ``suffix`` file under ``root`` (a folder, a zip or one file),
    in sorted order; files that are not UTF-8 are skipped."""
    if root.is_file() and zipfile.is_zipfile(root):
        with zipfile.ZipFile(root) as zf:
            for name in sorted(n for n in zf.namelist() if n.endswith(suffix)):
                try:
                    yield name, zf.read(name).decode("utf-8")
                except UnicodeDecodeError:
                    continue
        return
    base = root.parent if root.is_file() else root
    for path in [root] if root.is_file() else sorted(root.rglob(f"*{suffix}")):
        try:
            yield str(path.relative_to(base)), path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue


def mine(root: Path, language: str) -> Iterator[MinedPair]:
    """Yield pairs from every ``.py`` (python) or ``.java`` (java) file under ``root``: a folder, a
    zip of sources (members in name order, read one at a time) or a single file."""
    pairs = {"python": _python_pairs, "java": _java_pairs}[language]
    suffix = languages.get(language).suffix
    for rel, source in _sources(root, suffix):
        yield from pairs(source, rel)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--language", choices=["python", "java"], default="python")
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args(argv)
    for n, pair in enumerate(mine(args.root, args.language)):
        if args.limit is not None and n >= args.limit:
            break
        sys.stdout.write(json.dumps(asdict(pair)) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
