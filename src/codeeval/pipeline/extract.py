"""Extract the code (or the summary) from a model's answer: fenced blocks, chat noise, truncation.

Code, in order:
1. special tokens of chat templates (``<|im_end|>``, ``<|endoftext|>``...) are removed;
2. the main text: with fences (```lang ... ```; an unterminated fence, the answer cut at max_tokens,
   runs to the end of the text), the first block that defines ``entry_point``, else the first one
   tagged with the task's language, else the first untagged one, else the first of any tag; the
   other blocks tagged with the language (or untagged) may add definitions the main one lacks;
   without fences, the whole answer;
3. :func:`codeeval.pipeline.sanitize.sanitize` parses it (tree-sitter) and keeps the definitions the
   entry point needs (all of them without one), dropping prose, tests, ``__main__`` blocks, prints
   and example usage;
4. when the parser finds no definition (a body-only completion, a fragment), the main text as it
   is, or without fences the lines from the first one that starts code to the end of the code.
Cost: linear in the answer's length (one parse per text, see the sanitize module).
"""

from __future__ import annotations

import re
import textwrap

from codeeval.kit import languages
from codeeval.pipeline.sanitize import defines, sanitize

_FENCE = re.compile(r"^[ \t]*```[ \t]*([\w#+.-]*)[^\n]*\n(.*?)(?:^[ \t]*```[ \t]*$|\Z)", re.M | re.S)
_SPECIAL = re.compile(r"<\|[a-z_]+\|>|</s>|<s>|<eos>")
ALIASES = {lang.name: set(lang.fences) for lang in languages.LANGUAGES.values()}
_CODE_START = {
    "python": re.compile(r"^(?:def |async def |class |import |from \S+ import |@\w|[A-Za-z_]\w* ?=)"),
    "java": re.compile(r"^(?:import |package |public |private |protected |static |final |class |@\w|"
                       r"(?:[\w<>\[\], ]+)\s+\w+\s*\([^)]*\)\s*(?:throws [\w., ]+)?\{?\s*$)"),
    "csharp": re.compile(r"^(?:using |namespace |public |private |protected |internal |static |override |"
                         r"virtual |class |\[\w|(?:[\w<>\[\], ]+)\s+\w+\s*\([^)]*\)\s*\{?\s*$)"),
}
_PROSE_PREFIX = re.compile(r"^(?:summary|answer|explanation|description)\s*:\s*", re.I)


def strip_special_tokens(text: str) -> str:
    return _SPECIAL.sub("", text)


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(tag, body) of every fenced block, in order."""
    return [(m.group(1).lower(), m.group(2)) for m in _FENCE.finditer(text)]


def extract_code(text: str, language: str, entry_point: str = "") -> str:
    """The code in ``text`` for ``language`` (python, java, csharp); '' when there is none.

    ``entry_point`` is the function/method the answer must define (an item's ``function``); with it
    only the code it depends on is kept, and the block that defines it is preferred."""
    text = strip_special_tokens(text)
    blocks = fenced_blocks(text)
    if not blocks:
        return sanitize(text, language, entry_point) or _unfenced_code(text, language)
    tags = ALIASES.get(language, {language})
    ordered = [body for pick in (lambda t: t in tags, lambda t: t == "", lambda t: True)
               for tag, body in blocks if pick(tag)]
    ordered = list(dict.fromkeys(b for b in ordered if b.strip()))
    if not ordered:
        return ""
    main = next((b for b in ordered if entry_point and defines(_dedent(b), language, entry_point)),
                ordered[0])
    others = [b for t, b in blocks if (t in tags or t == "") and b.strip() and b != main]
    code = sanitize([_dedent(b) for b in dict.fromkeys([main, *others])], language, entry_point)
    return code or main.rstrip() + "\n"


def _dedent(block: str) -> str:
    """``block`` without the indentation all its lines share (a fence inside a list item); as it is
    when there is none (textwrap.dedent would also blank whitespace-only lines in strings)."""
    lines = [line for line in block.splitlines() if line.strip()]
    if lines and all(line[:1] in (" ", "\t") for line in lines):
        return textwrap.dedent(block)
    return block


def _unfenced_code(text: str, language: str) -> str:
    lines = text.splitlines()
    start_re = _CODE_START.get(language)
    start = 0
    if start_re is not None:
        for i, line in enumerate(lines):
            if start_re.match(line.strip()) and (language != "python" or not line.startswith(" ") or i == 0):
                start = i
                break
        else:
            return text.lstrip("\n").rstrip() + "\n" if text.strip() else ""  # keeps a body's indent
    body = lines[start:]
    body = _until_prose_python(body) if language == "python" else _until_braces_close(body)
    code = "\n".join(body).strip("\n")
    return code + "\n" if code.strip() else ""


def _until_prose_python(lines: list[str]) -> list[str]:
    """Stop at the first unindented line after a blank line that is not code (trailing chat)."""
    out: list[str] = []
    blank = False
    start = _CODE_START["python"]
    for line in lines:
        if blank and line and not line[0].isspace() and not start.match(line) and not line.startswith("#"):
            break
        blank = not line.strip()
        out.append(line)
    return out


def _until_braces_close(lines: list[str]) -> list[str]:
    """Stop once the braces opened by the code are balanced again (ignores braces in strings roughly)."""
    depth, opened, out = 0, False, []
    for line in lines:
        out.append(line)
        stripped = re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|//.*$', "", line)
        depth += stripped.count("{") - stripped.count("}")
        opened = opened or "{" in stripped
        if opened and depth <= 0:
            break
    return out


def extract_summary(text: str) -> str:
    """The first sentence of the answer, without fences, quotes, labels or special tokens."""
    text = strip_special_tokens(text)
    text = _FENCE.sub(" ", text)
    text = re.sub(r"`([^`]*)`", r"\1", text)
    for line in text.splitlines():
        line = _PROSE_PREFIX.sub("", line.strip()).strip(" \"'*#-")
        if not line:
            continue
        m = re.match(r"(.+?[.!?])(?:\s|$)", line)
        return (m.group(1) if m else line).strip()
    return ""
