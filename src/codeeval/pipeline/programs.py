"""Turn an extracted answer into the program the sandbox runs (plain data; no grpc here).

- Python codegen: an answer that defines the item's function is used with the prompt's imports
  prepended; otherwise it is a completion of the prompt (HumanEval style: prompt + answer).
- Java: an answer with a type declaration is used as it is (prompt imports prepended); a bare
  method is put in the prompt's class (or ``public class Solution``); a body-only completion is
  appended to the prompt and the open braces closed.
- C#: a bare method is put in ``public class Solution`` with the common usings.
- Translation items without tests are compiled only (MODE_COMPILE_ONLY); with tests, executed.

A program (:class:`codeeval.records.Program`) is keyed by the sha256 of everything the sandbox
sees, so identical programs (identical completions of the same item) are executed once.
"""

from __future__ import annotations

import re

from codeeval.data import Item
from codeeval.records import Mode, Program
from codeeval.suites.schema import Task

_TYPE_DECL = re.compile(r"^\s*(?:(?:public|private|protected|internal|static|final|abstract|sealed|partial)\s+)*"
                        r"(?:class|interface|enum|record|struct)\s+\w+", re.M)
_IMPORT = re.compile(r"^\s*(?:import\s+[\w.*]+\s*;|from\s+\S+\s+import\s+.+|import\s+[\w., ]+)\s*$", re.M)
_CLASS_OPEN = re.compile(r"^(.*?\bclass\s+\w+[^{]*\{)", re.S)
CSHARP_USINGS = "using System;\nusing System.Collections.Generic;\nusing System.Linq;\nusing System.Text;\n\n"


def _imports(code: str) -> str:
    lines = [m.group(0).strip() for m in _IMPORT.finditer(code)]
    return "\n".join(dict.fromkeys(lines)) + ("\n\n" if lines else "")


def _defines(code: str, function: str, language: str) -> bool:
    if not function:
        return False
    if language == "python":
        return re.search(rf"^\s*(?:async\s+)?def\s+{re.escape(function)}\s*\(", code, re.M) is not None
    return re.search(rf"\b{re.escape(function)}\s*\([^;]*\)\s*(?:throws [\w., ]+)?\s*\{{", code) is not None


def python_source(item: Item, code: str) -> str:
    if not item.prompt_code or _defines(code, item.function, "python") or not item.function:
        return _imports(item.prompt_code) + code if item.prompt_code else code
    return item.prompt_code + code


def java_source(item: Item, code: str) -> str:
    if _TYPE_DECL.search(code):
        return _imports(item.prompt_code) + code
    if _defines(code, item.function, "java") or not item.prompt_code:
        m = _CLASS_OPEN.match(item.prompt_code) if item.prompt_code else None
        head = m.group(1) if m else _imports(item.prompt_code) + "public class Solution {"
        body = _IMPORT.sub("", code).strip("\n")
        return f"{_imports(code)}{head}\n{body}\n}}\n"
    text = item.prompt_code + code
    missing = text.count("{") - text.count("}")
    return text.rstrip() + "\n" + "}\n" * max(missing, 0)


def csharp_source(item: Item, code: str) -> str:
    if _TYPE_DECL.search(code):
        return code if "using System" in code else CSHARP_USINGS + code
    return f"{CSHARP_USINGS}public class Solution\n{{\n{code.rstrip()}\n}}\n"


def build_program(task: Task, item: Item, code: str) -> Program:
    """The program for one extracted answer (with the task's wall limit); mode ``none`` for
    summarization or empty answers."""
    if task.kind == "summarization" or not code.strip():
        return Program(task.language, code, "", "", Mode.NONE, task.timeout_ms)
    source = {"python": python_source, "java": java_source, "csharp": csharp_source}[task.language](item, code)
    if item.test:
        return Program(task.language, source, item.test, item.entry_point, Mode.RUN_TESTS, task.timeout_ms)
    return Program(task.language, source, "", "", Mode.COMPILE_ONLY, task.timeout_ms)
