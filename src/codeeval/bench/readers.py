"""Dataset readers: each turns one dataset format into :class:`Item` records.

A reader is a function ``(path, task, options) -> list[Item]`` registered in :data:`READERS` under
the name a suite uses. Formats (see /work/shared/datasets/README.md):

- ``codeeval_yaml``: our own suites' items (a YAML list, block literals for code);
- ``humaneval``: OpenAI HumanEval JSONL(.gz): prompt, canonical_solution, test, entry_point;
- ``humaneval_x``: THUDM HumanEval-X JSONL(.gz): prompt, declaration, canonical_solution, test;
- ``mbpp``: MBPP JSONL: text, code, test_list, test_setup_code;
- ``codereval_prompts``: CoderEval-Input4Models JSONL (prompts only: its tests are not available);
- ``codexglue_translation``: CodeXGLUE code-to-code-trans parallel files (``<path>.java`` / ``<path>.cs``);
- ``study_summarization``: the study's summarization sets (id, code, reference_summary).

Cost: each reader loads its whole file (the largest here is a few MB).
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from codeeval.suites import resolve_path
from codeeval.suites.schema import Task


@dataclass(frozen=True)
class Item:
    """One benchmark instance.

    ``fields`` fill the task prompt's placeholders; ``reference`` is the gold answer for scoring;
    ``test`` and ``entry_point`` go to the sandbox as they are (Python: ``check(entry_point)`` is
    called after the test; Java: entry_point is the test class); ``prompt_code`` is code the answer
    completes (a HumanEval prompt); ``function`` is the function/method the answer must define;
    ``source`` is the model's input code, for the leakage check.
    """

    id: str
    fields: dict[str, str]
    reference: str = ""
    test: str = ""
    entry_point: str = ""
    prompt_code: str = ""
    function: str = ""
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


Reader = Callable[[Path, Task, dict[str, Any]], list[Item]]
READERS: dict[str, Reader] = {}


def reader(name: str) -> Callable[[Reader], Reader]:
    def deco(fn: Reader) -> Reader:
        READERS[name] = fn
        return fn

    return deco


def read_items(task: Task, base_dir: Path) -> list[Item]:
    """The task's items, after ``options.exclude_ids_file`` and ``limit``."""
    from codeeval.suites.schema import did_you_mean

    if task.reader not in READERS:
        raise ValueError(f"unknown reader {task.reader!r}{did_you_mean(task.reader, list(READERS))}")
    items = READERS[task.reader](resolve_path(task.path, base_dir), task, dict(task.options))
    exclude = task.options.get("exclude_ids_file")
    if exclude:
        excluded = _excluded_ids(resolve_path(str(exclude), base_dir), task.language)
        items = [it for it in items if it.id not in excluded]
    ids = [it.id for it in items]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise ValueError(f"item id {dup!r} appears more than once in {task.path}")
    return items[: task.limit] if task.limit else items


def _excluded_ids(path: Path, language: str) -> set[str]:
    data = json.loads(path.read_text())
    if isinstance(data, dict):
        picked = [v for k, v in data.items() if language[:2] in k.lower() or language in k.lower()]
        values = picked or list(data.values())
        return {str(x) for v in values for x in (v if isinstance(v, list) else [v])}
    return {str(x) for x in data}


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{n}: not JSON: {exc}") from None


def _need(rec: dict[str, Any], key: str, path: Path) -> Any:
    if key not in rec:
        raise KeyError(f"{path}: record {rec.get('id') or rec.get('task_id') or '?'} has no field {key!r}")
    return rec[key]


@reader("codeeval_yaml")
def read_codeeval_yaml(path: Path, task: Task, options: dict[str, Any]) -> list[Item]:
    """Our own format: a YAML list of mappings with ``id``, the prompt fields (``prompt``,
    ``description`` or ``code``), and optionally ``reference``, ``test``, ``entry_point``,
    ``function``, ``prompt_code``."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a YAML list of items")
    out = []
    for rec in data:
        fields = {k: str(rec[k]) for k in ("prompt", "description", "code") if k in rec}
        prompt_code = str(rec.get("prompt_code", rec.get("prompt", "")))
        out.append(Item(id=str(_need(rec, "id", path)), fields=fields, reference=str(rec.get("reference", "")),
                        test=str(rec.get("test", "")), entry_point=str(rec.get("entry_point", "")),
                        prompt_code=prompt_code, function=str(rec.get("function", "")),
                        source=str(rec.get("code", "")) if task.kind != "codegen" else ""))
    return out


@reader("humaneval")
def read_humaneval(path: Path, task: Task, options: dict[str, Any]) -> list[Item]:
    out = []
    for rec in _jsonl(path):
        prompt, entry = _need(rec, "prompt", path), _need(rec, "entry_point", path)
        out.append(Item(id=_need(rec, "task_id", path), fields={"prompt": prompt}, test=_need(rec, "test", path),
                        entry_point=entry, function=entry, prompt_code=prompt,
                        reference=prompt + rec.get("canonical_solution", "")))
    return out


_JAVA_METHOD = re.compile(r"public\s+(?:static\s+)?[\w<>\[\], ?]+\s+(\w+)\s*\(")


@reader("humaneval_x")
def read_humaneval_x(path: Path, task: Task, options: dict[str, Any]) -> list[Item]:
    """HumanEval-X: the Python tests call ``check`` themselves; Java tests are a ``Main`` class."""
    out = []
    for rec in _jsonl(path):
        prompt = _need(rec, "prompt", path)
        decl = rec.get("declaration", "")
        if task.language == "python":
            m = re.search(r"def\s+(\w+)\s*\(", decl or prompt)
            function, entry = (m.group(1) if m else ""), ""
        else:
            methods = _JAVA_METHOD.findall(decl or prompt)
            function, entry = (methods[-1] if methods else ""), "Main"
        out.append(Item(id=_need(rec, "task_id", path), fields={"prompt": prompt}, test=_need(rec, "test", path),
                        entry_point=entry, function=function, prompt_code=prompt,
                        reference=(decl or prompt) + rec.get("canonical_solution", "")))
    return out


@reader("mbpp")
def read_mbpp(path: Path, task: Task, options: dict[str, Any]) -> list[Item]:
    """MBPP: the description carries the first test (as in the MBPP paper); asserts run at module level."""
    out = []
    for rec in _jsonl(path):
        tests = list(_need(rec, "test_list", path))
        code = rec.get("code", "")
        m = re.search(r"def\s+(\w+)\s*\(", tests[0] if tests else code) or re.search(r"(\w+)\s*\(", tests[0])
        function = m.group(1) if m else ""
        desc = f"{_need(rec, 'text', path)}\nYour code should pass this test:\n{tests[0] if tests else ''}"
        test = "\n".join([rec.get("test_setup_code", ""), *tests]).strip() + "\n"
        out.append(Item(id=str(_need(rec, "task_id", path)), fields={"description": desc}, test=test,
                        function=function, reference=code))
    return out


@reader("codereval_prompts")
def read_codereval_prompts(path: Path, task: Task, options: dict[str, Any]) -> list[Item]:
    """CoderEval prompts: ``prompt`` = the model input, ``description`` = the docstring. No tests."""
    out = []
    for rec in _jsonl(path):
        prompt = _need(rec, "input", path)
        sig = rec.get("signature", "")
        m = re.search(r"(\w+)\s*\(", sig)
        out.append(Item(id=_need(rec, "question_id", path), fields={"prompt": prompt,
                                                                    "description": rec.get("docstring", "")},
                        prompt_code=prompt, function=m.group(1) if m else ""))
    return out


@reader("codexglue_translation")
def read_codexglue_translation(path: Path, task: Task, options: dict[str, Any]) -> list[Item]:
    """Parallel files ``<path>.java`` and ``<path>.cs``, one function per line; ``direction`` is
    java-cs or cs-java (default: from the task's languages)."""
    ext = {"java": "java", "csharp": "cs"}
    direction = options.get("direction") or f"{ext[task.source_language or 'java']}-{ext[task.language]}"
    if direction not in ("java-cs", "cs-java"):
        raise ValueError(f"options.direction must be java-cs or cs-java, not {direction!r}")
    src_ext, tgt_ext = direction.split("-")
    src_path, tgt_path = Path(f"{path}.{src_ext}"), Path(f"{path}.{tgt_ext}")
    for p in (src_path, tgt_path):
        if not p.is_file():
            raise FileNotFoundError(f"{p} does not exist")
    sources = src_path.read_text(encoding="utf-8").splitlines()
    targets = tgt_path.read_text(encoding="utf-8").splitlines()
    if len(sources) != len(targets):
        raise ValueError(f"{src_path} has {len(sources)} lines but {tgt_path} has {len(targets)}")
    stem = path.name.split(".")[0]
    return [Item(id=f"{stem}-{i}", fields={"code": s}, reference=t, source=s)
            for i, (s, t) in enumerate(zip(sources, targets, strict=True))]


@reader("study_summarization")
def read_study_summarization(path: Path, task: Task, options: dict[str, Any]) -> list[Item]:
    """The study's summarization sets: the input ``code`` often still holds its own docstring (leakage)."""
    return [Item(id=str(_need(rec, "id", path)), fields={"code": _need(rec, "code", path)},
                 reference=_need(rec, "reference_summary", path), source=rec["code"]) for rec in _jsonl(path)]
