"""Readers of executable benchmarks and prompt sets, each with one behaviour:

- ``humaneval``: OpenAI HumanEval JSONL(.gz): ``task_id``, ``prompt``, ``canonical_solution``,
  ``test``, ``entry_point`` (the sandbox calls ``check(entry_point)`` after the test);
- ``humaneval_x``: THUDM HumanEval-X JSONL(.gz): ``prompt``, ``declaration``, ``canonical_solution``,
  ``test`` (Python tests call ``check`` themselves; Java tests are a ``Main`` class);
- ``mbpp``: MBPP in both published shapes, JSONL or one JSON array: original (``text``, ``code``,
  ``test_list``, ``test_setup_code``) and sanitized (``prompt``, ``code``, ``test_imports``,
  ``test_list``); the item's test is the setup code, then the imports, then the asserts, so a test
  that needs ``import math`` runs;
- ``codereval_prompts``: CoderEval-Input4Models JSONL (prompts only: its tests are not public);
- ``codeeval_yaml``: the project's own items, a YAML list of mappings.

:func:`benchmark_source` tells HumanEval, HumanEval-X and MBPP files apart (``codeeval exec``).

Cost: one pass over the file (the YAML reader loads it whole).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from codeeval.data.errors import DataError, DataNotFound, SourceError
from codeeval.data.jsonl import read_records
from codeeval.data.records import Item, Source
from codeeval.data.registry import register


def need(rec: dict[str, Any], key: str, path: Path) -> Any:
    """``rec[key]``, or DataError naming the file, the record and the field."""
    if key not in rec:
        rid = rec.get("id") or rec.get("task_id") or rec.get("question_id") or "?"
        raise DataError(f"{path}: record {rid} has no field {key!r}")
    return rec[key]


def _path(source: Source) -> Path:
    assert source.path is not None  # the registry checked it
    return source.path


@register("humaneval")
def read_humaneval(source: Source) -> Iterator[Item]:
    """OpenAI HumanEval JSONL(.gz): the reference is prompt + canonical solution."""
    path = _path(source)
    for rec in read_records(path):
        prompt, entry = need(rec, "prompt", path), need(rec, "entry_point", path)
        yield Item(id=str(need(rec, "task_id", path)), fields={"prompt": prompt}, test=need(rec, "test", path),
                   entry_point=entry, function=entry, prompt_code=prompt,
                   reference=prompt + rec.get("canonical_solution", ""))


_JAVA_METHOD = re.compile(r"public\s+(?:static\s+)?[\w<>\[\], ?]+\s+(\w+)\s*\(")


@register("humaneval_x")
def read_humaneval_x(source: Source) -> Iterator[Item]:
    """THUDM HumanEval-X JSONL(.gz), Python or Java (by the source's language)."""
    path = _path(source)
    for rec in read_records(path):
        prompt = need(rec, "prompt", path)
        decl = rec.get("declaration", "")
        if source.language == "python":
            m = re.search(r"def\s+(\w+)\s*\(", decl or prompt)
            function, entry = (m.group(1) if m else ""), ""
        else:
            methods = _JAVA_METHOD.findall(decl or prompt)
            function, entry = (methods[-1] if methods else ""), "Main"
        yield Item(id=str(need(rec, "task_id", path)), fields={"prompt": prompt}, test=need(rec, "test", path),
                   entry_point=entry, function=function, prompt_code=prompt,
                   reference=(decl or prompt) + rec.get("canonical_solution", ""))


def _mbpp_function(code: str, first_test: str) -> str:
    """The function the tests call: the first one ``code`` defines that the first test names, else
    the first call in the test."""
    for name in re.findall(r"^\s*def\s+(\w+)\s*\(", code, re.M):
        if re.search(rf"\b{re.escape(name)}\s*\(", first_test):
            return name
    m = re.search(r"assert\s+(?:not\s+)?(?:\(\s*)?(?:[\w.]+\.)?(\w+)\s*\(", first_test)
    return m.group(1) if m else ""


@register("mbpp")
def read_mbpp(source: Source) -> Iterator[Item]:
    """MBPP, original (``text``) or sanitized (``prompt``), JSONL or a JSON array.

    The description carries the first test (as in the MBPP paper); the test is ``test_setup_code``,
    ``test_imports`` and the ``test_list`` asserts, run at module level (no entry point).
    """
    path = _path(source)
    for rec in read_records(path):
        tests = [str(t) for t in need(rec, "test_list", path)]
        if not tests:
            raise DataError(f"{path}: record {rec.get('task_id', '?')} has an empty 'test_list'")
        if "text" in rec:
            text = rec["text"]
        elif "prompt" in rec:
            text = rec["prompt"]
        else:
            raise DataError(f"{path}: record {rec.get('task_id', '?')} has neither 'text' (original MBPP) "
                            "nor 'prompt' (sanitized MBPP)")
        code = str(need(rec, "code", path))
        desc = f"{text}\nYour code should pass this test:\n{tests[0]}"
        setup = [str(rec.get("test_setup_code") or ""), *(str(i) for i in rec.get("test_imports") or [])]
        test = "\n".join([s for s in setup if s.strip()] + tests) + "\n"
        yield Item(id=str(need(rec, "task_id", path)), fields={"description": desc}, test=test,
                   function=_mbpp_function(code, tests[0]), reference=code)


@register("codereval_prompts")
def read_codereval_prompts(source: Source) -> Iterator[Item]:
    """CoderEval prompts: ``prompt`` = the model input, ``description`` = the docstring. No tests."""
    path = _path(source)
    for rec in read_records(path):
        prompt = need(rec, "input", path)
        m = re.search(r"(\w+)\s*\(", rec.get("signature", ""))
        yield Item(id=str(need(rec, "question_id", path)),
                   fields={"prompt": prompt, "description": rec.get("docstring", "")},
                   prompt_code=prompt, function=m.group(1) if m else "")


@register("codeeval_yaml")
def read_codeeval_yaml(source: Source) -> Iterator[Item]:
    """The project's own items: a YAML list of mappings with ``id``, the prompt fields (``prompt``,
    ``description``, ``code``) and optionally ``reference``, ``test``, ``entry_point``, ``function``,
    ``prompt_code`` (default: ``prompt``). ``code`` is also the item's source (leakage check)."""
    path = _path(source)
    if not path.is_file():
        raise DataNotFound(f"{path} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise DataError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a YAML list of items")
    for n, rec in enumerate(data, 1):
        if not isinstance(rec, dict):
            raise DataError(f"{path}: item {n} is not a mapping")
        fields = {k: str(rec[k]) for k in ("prompt", "description", "code") if k in rec}
        yield Item(id=str(need(rec, "id", path)), fields=fields, reference=str(rec.get("reference", "")),
                   test=str(rec.get("test", "")), entry_point=str(rec.get("entry_point", "")),
                   prompt_code=str(rec.get("prompt_code", rec.get("prompt", ""))),
                   function=str(rec.get("function", "")), source=str(rec.get("code", "")))


def benchmark_source(path: Path) -> Source:
    """The source of an executable benchmark file as published, told from its first record (what
    ``codeeval exec --problems`` takes): MBPP original or sanitized (``test_list``), HumanEval-X
    (``declaration``; the language from the ``Python/`` or ``Java/`` task ids), HumanEval (``prompt``,
    ``test``, ``entry_point``). SourceError naming the keys it found otherwise. Cost: reads one
    record (a JSON array file is parsed whole)."""
    first = next(iter(read_records(path)), None)
    if first is None:
        raise DataError(f"{path}: no records")
    if "test_list" in first:
        return Source("mbpp", path, "python")
    if "declaration" in first:
        prefix = str(first.get("task_id", "")).split("/")[0].lower()
        if prefix not in ("python", "java"):
            raise SourceError(f"{path}: HumanEval-X {prefix or '?'} tasks are not supported (python and java are)",
                              key="path")
        return Source("humaneval_x", path, prefix)
    if {"prompt", "test", "entry_point"} <= first.keys():
        return Source("humaneval", path, "python")
    raise SourceError(f"{path}: not a HumanEval, HumanEval-X or MBPP file (first record's keys: "
                      f"{', '.join(sorted(first))})", key="path")
