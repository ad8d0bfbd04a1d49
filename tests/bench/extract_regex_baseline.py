"""The regular-expression extractor codeeval used before the parser-based one (frozen copy of
codeeval.pipeline.extract at commit 75f2f4b), kept only so tests can compare the two on real answers."""

from __future__ import annotations

import re

from codeeval.kit import languages

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


def extract_code(text: str, language: str) -> str:
    """The code in ``text`` for ``language`` (python, java, csharp); '' when there is none."""
    text = strip_special_tokens(text)
    blocks = fenced_blocks(text)
    if blocks:
        tags = ALIASES.get(language, {language})
        for pick in (lambda t: t in tags, lambda t: t == "", lambda t: True):
            for tag, body in blocks:
                if pick(tag):
                    return body.rstrip() + "\n" if body.strip() else ""
    return _unfenced_code(text, language)


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
            return text.strip() + "\n" if text.strip() else ""
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
