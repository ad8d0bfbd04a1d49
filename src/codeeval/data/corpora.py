"""Readers of reference corpora (scored by similarity, or used for training), each with one behaviour:

- ``codexglue_translation``: CodeXGLUE code-to-code-trans parallel files ``<path>.java`` and
  ``<path>.cs``, one function per line, line i of one parallel to line i of the other; option
  ``direction`` (``java-cs`` or ``cs-java``; default from the source and answer languages). Files of
  different lengths are an error naming both files and both counts, whoever reads them;
- ``concode``: CodeXGLUE text-to-code JSON lines (``nl``, ``code``); the class environment after
  ``concode_field_sep`` is kept as context, separators become newlines;
- ``study_summarization``: the study's summarization sets (``id``, ``code``, ``reference_summary``);
  the input ``code`` often still holds its own docstring (the leakage check reports it);
- ``jsonl``: any JSON lines (``.gz`` too) with explicit ``fields`` (prompt field -> record key) and
  ``target`` (record key of the reference) options.

(The ``hf`` reader, Hugging Face datasets with the same mapping, is :mod:`codeeval.data.hf`.)
Ids: the record's ``id`` where the format has one, else ``<file stem>-<line index>``.
Cost: one pass over the file(s); the translation reader reads both files whole
(a few MB) to check their lengths before yielding.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from codeeval.data.benchmarks import need
from codeeval.data.errors import DataError, SourceError
from codeeval.data.jsonl import iter_lines, read_records
from codeeval.data.records import Item, Source
from codeeval.data.registry import register
from codeeval.kit import languages

DIRECTIONS = ("java-cs", "cs-java")


def _stem(path: Path) -> str:
    return path.name.split(".")[0]


def translation_direction(source: Source) -> str:
    """``options.direction``, else ``<source ext>-<answer ext>`` from the source's languages."""
    direction = source.options.get("direction")
    if not direction:
        src = languages.get(source.source_language or "java", "source_language").extension
        direction = f"{src}-{languages.get(source.language).extension}"
    if direction not in DIRECTIONS:
        raise SourceError(f"direction must be one of {', '.join(DIRECTIONS)}, not {direction!r}", key="direction")
    return str(direction)


def _parallel_files(path: Path) -> list[Path]:
    return [Path(f"{path}.java"), Path(f"{path}.cs")]


@register("codexglue_translation", files=_parallel_files)
def read_codexglue_translation(source: Source) -> Iterator[Item]:
    """CodeXGLUE code-to-code-trans parallel files; a length mismatch is an error naming both files."""
    assert source.path is not None
    src_ext, tgt_ext = translation_direction(source).split("-")
    src_path, tgt_path = Path(f"{source.path}.{src_ext}"), Path(f"{source.path}.{tgt_ext}")
    sources = [line.strip() for line in iter_lines(src_path)]
    targets = [line.strip() for line in iter_lines(tgt_path)]
    if len(sources) != len(targets):
        raise DataError(f"parallel files differ in length: {src_path} has {len(sources)} lines but "
                        f"{tgt_path} has {len(targets)}")
    stem = _stem(source.path)
    for i, (s, t) in enumerate(zip(sources, targets, strict=True)):
        yield Item(id=f"{stem}-{i}", fields={"code": s}, reference=t, source=s)


@register("concode")
def read_concode(source: Source) -> Iterator[Item]:
    """CodeXGLUE text-to-code (CONCODE) JSON lines: the description keeps the class environment."""
    assert source.path is not None
    stem = _stem(source.path)
    for i, rec in enumerate(read_records(source.path)):
        nl = str(need(rec, "nl", source.path))
        nl = nl.replace(" concode_field_sep ", "\n").replace(" concode_elem_sep ", "\n")
        yield Item(id=f"{stem}-{i}", fields={"description": nl.strip()}, reference=str(rec.get("code", "")).strip())


@register("study_summarization")
def read_study_summarization(source: Source) -> Iterator[Item]:
    """The study's summarization sets (id, code, reference_summary)."""
    assert source.path is not None
    for rec in read_records(source.path):
        code = str(need(rec, "code", source.path))
        yield Item(id=str(need(rec, "id", source.path)), fields={"code": code},
                   reference=str(need(rec, "reference_summary", source.path)).strip(), source=code)


def mapped_item(rec: Mapping[str, Any], source: Source, item_id: str, where: str) -> Item:
    """An item from a record through the ``fields``/``target`` options; DataError (key ``fields``)
    naming the missing key and the keys there are."""
    fields: Mapping[str, str] = source.options["fields"]
    target = str(source.options["target"])
    missing = [k for k in [*fields.values(), target] if k not in rec]
    if missing:
        raise DataError(f"{where}: record has no key {missing[0]!r} (keys: {', '.join(sorted(rec))})", key="fields")
    return Item(id=item_id, fields={f: str(rec[k]) for f, k in fields.items()}, reference=str(rec[target]))


@register("jsonl", options=("fields", "target"))
def read_jsonl(source: Source) -> Iterator[Item]:
    """Any JSON lines with explicit ``fields`` and ``target`` options."""
    assert source.path is not None
    stem = _stem(source.path)
    for i, rec in enumerate(read_records(source.path)):
        yield mapped_item(rec, source, f"{stem}-{i}", f"{source.path}:{i + 1}")
