"""Dataset readers: each turns one :class:`SourceSpec` into examples of (task-prompt fields, target).

Formats:
* ``codexglue_translation`` - CodeXGLUE code-to-code-trans: ``<path>.java`` and ``<path>.cs`` hold one
  function per line, line i parallel to line i; ``direction`` picks source and target.
* ``concode`` - CodeXGLUE text-to-code JSON lines (``nl``, ``code``); the class environment after
  ``concode_field_sep`` is kept as context, separators become newlines.
* ``paper_replication`` - the study's summarization JSONL (``id``, ``code``, ``reference_summary``).
* ``jsonl`` - any JSON lines (``.gz`` too) with explicit ``fields`` and ``target`` keys.
* ``hf`` - a Hugging Face dataset (needs the hub); same ``fields``/``target`` mapping.
* ``mined`` - functions with docstrings mined from a local source tree, docstring removed from input.

Cost: one pass over the file; ``limit`` stops reading early.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codeeval.kit.errors import FailedPrecondition, InvalidArgument, NotFound
from codeeval.trainer.config import SourceSpec, expand_path


@dataclass(frozen=True)
class Example:
    task: str
    fields: dict[str, str]
    target: str


def required_paths(spec: SourceSpec) -> list[Path]:
    """Local files/folders the source needs (checked before a job starts)."""
    if spec.reader == "hf":
        return []
    base = expand_path(spec.path)
    if spec.reader == "codexglue_translation":
        return [Path(f"{base}.java"), Path(f"{base}.cs")]
    return [base]


def check_source(spec: SourceSpec, field: str) -> None:
    """NotFound naming the path when a local source is missing; InvalidArgument for bad mappings."""
    if spec.reader in ("jsonl", "hf") and (not spec.fields or not spec.target):
        raise InvalidArgument(f"reader {spec.reader!r} needs explicit 'fields' and 'target'", field=field)
    if spec.reader == "hf" and not spec.hf_name:
        raise InvalidArgument("reader 'hf' needs hf_name", field=field)
    for path in required_paths(spec):
        if not path.exists():
            raise NotFound(f"dataset path {path} does not exist", field=f"{field}.path")


def read(spec: SourceSpec, task: str) -> list[Example]:
    check_source(spec, f"data.tasks[{task}].source")
    rows = _READERS[spec.reader](spec, task)
    out: list[Example] = []
    for ex in rows:
        if spec.strip_docstring and "code" in ex.fields:
            ex = Example(ex.task, {**ex.fields, "code": strip_docstrings(ex.fields["code"], spec.language)}, ex.target)
        if ex.target.strip() and all(v.strip() for v in ex.fields.values()):
            out.append(ex)
        if spec.limit is not None and len(out) >= spec.limit:
            break
    return out


def strip_docstrings(code: str, language: str) -> str:
    """``code`` without docstrings (Python, via the miner's AST rule) or Javadoc comments (Java),
    so a summarization input does not contain its own reference."""
    if language == "java":
        return re.sub(r"/\*\*.*?\*/\s*", "", code, flags=re.S)
    from codeeval.trainer.miner import remove_python_docstrings

    return remove_python_docstrings(code)


def _lines(path: Path) -> Iterator[str]:
    opener: Any = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        yield from fh


def _json_lines(path: Path) -> Iterator[dict[str, Any]]:
    for n, line in enumerate(_lines(path), 1):
        if line.strip():
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise FailedPrecondition(f"{path}:{n}: not JSON ({exc.msg})", field="data") from None


def _translation(spec: SourceSpec, task: str) -> Iterator[Example]:
    base = expand_path(spec.path)
    src_ext, tgt_ext = ("java", "cs") if spec.direction == "java-cs" else ("cs", "java")
    for src, tgt in zip(_lines(Path(f"{base}.{src_ext}")), _lines(Path(f"{base}.{tgt_ext}")), strict=False):
        yield Example(task, {"code": src.strip()}, tgt.strip())


def _concode(spec: SourceSpec, task: str) -> Iterator[Example]:
    for rec in _json_lines(expand_path(spec.path)):
        nl = rec.get("nl", "").replace(" concode_field_sep ", "\n").replace(" concode_elem_sep ", "\n")
        yield Example(task, {"description": nl.strip()}, rec.get("code", "").strip())


def _paper(spec: SourceSpec, task: str) -> Iterator[Example]:
    for rec in _json_lines(expand_path(spec.path)):
        yield Example(task, {"code": rec["code"]}, rec["reference_summary"].strip())


def _mapped(rec: dict[str, Any], spec: SourceSpec, task: str) -> Example:
    missing = [k for k in [*spec.fields.values(), spec.target] if k not in rec]
    if missing:
        raise FailedPrecondition(f"record has no key {missing[0]!r} (keys: {', '.join(sorted(rec))})",
                                 field=f"data.tasks[{task}].source.fields")
    return Example(task, {f: str(rec[k]) for f, k in spec.fields.items()}, str(rec[spec.target]))


def _jsonl(spec: SourceSpec, task: str) -> Iterator[Example]:
    for rec in _json_lines(expand_path(spec.path)):
        yield _mapped(rec, spec, task)


def _hf(spec: SourceSpec, task: str) -> Iterator[Example]:
    try:
        import datasets

        ds = datasets.load_dataset(spec.hf_name, spec.hf_config, split=spec.split, streaming=True)
    except Exception as exc:  # noqa: BLE001 - no hub here is an expected condition
        raise FailedPrecondition(f"cannot load HF dataset {spec.hf_name!r}: {type(exc).__name__}: {exc}"[:500],
                                 field=f"data.tasks[{task}].source.hf_name") from None
    for rec in ds:
        yield _mapped(dict(rec), spec, task)


def _mined(spec: SourceSpec, task: str) -> Iterator[Example]:
    from codeeval.trainer.miner import mine

    for pair in mine(expand_path(spec.path), spec.language):
        yield Example(task, {"code": pair.code}, pair.summary)


_READERS = {
    "codexglue_translation": _translation,
    "concode": _concode,
    "paper_replication": _paper,
    "jsonl": _jsonl,
    "hf": _hf,
    "mined": _mined,
}
