"""Training examples from the :mod:`codeeval.data` registry: a :class:`SourceSpec` becomes a
:class:`codeeval.data.Source`, its items become :class:`Example` records (``Example.from_item``), so a
file reads the same here as in the bench.

Every registered reader works (``codexglue_translation``, ``concode``, ``study_summarization``,
``jsonl`` and ``hf`` with explicit ``fields``/``target``, the benchmarks...); this module registers
``mined``: functions with docstrings mined from a local source tree (:mod:`codeeval.trainer.miner`),
docstring removed from the input. ``strip_docstring`` removes docstrings/Javadoc from a ``code``
field; examples with an empty field or target are skipped. Errors carry the config location
(``data.tasks[<task>].source.<key>``): NotFound for missing data, InvalidArgument for a bad source,
FailedPrecondition for data that do not read.

Cost: one pass over the source; ``limit`` stops reading early (translation files are read whole
first, to check that they are parallel).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codeeval.data import DataError, DataNotFound, Example, Item, Source, SourceError, check, iter_items, register
from codeeval.data import reader_names as reader_names
from codeeval.data import required_files as _required_files
from codeeval.kit.errors import FailedPrecondition, InvalidArgument, NotFound
from codeeval.kit.paths import expand

if TYPE_CHECKING:
    from codeeval.trainer.recipe_schema import SourceSpec

__all__ = ["Example", "check_source", "read", "reader_names", "required_paths", "strip_docstrings", "to_source"]


def to_source(spec: SourceSpec) -> Source:
    """The data-layer source of a config's source spec (``${datasets}`` expanded)."""
    options: dict[str, Any] = {"direction": spec.direction, "split": spec.split}
    if spec.fields:
        options["fields"] = dict(spec.fields)
    if spec.target:
        options["target"] = spec.target
    if spec.hf_name:
        options["hf_name"] = spec.hf_name
    if spec.hf_config:
        options["hf_config"] = spec.hf_config
    # A relative path is relative to the shipped configs folder (the project's own data: configs/data/).
    path = expand(spec.path, base_dir=Path(__file__).parent / "configs") if spec.path else None
    return Source(reader=spec.reader, path=path, language=spec.language,
                  options=options)


def required_paths(spec: SourceSpec) -> list[Path]:
    """Local files/folders the source needs (checked before a job starts)."""
    return _required_files(to_source(spec))


def check_source(spec: SourceSpec, field: str) -> None:
    """NotFound naming the path when a local source is missing; InvalidArgument for a bad source."""
    try:
        check(to_source(spec))
    except DataNotFound as exc:
        raise NotFound(f"dataset path {str(exc)}", field=f"{field}.{exc.key}") from None
    except SourceError as exc:
        raise InvalidArgument(str(exc), field=f"{field}.{exc.key}") from None


def read(spec: SourceSpec, task: str) -> list[Example]:
    """The task's examples: non-empty fields and target, docstrings stripped if asked, ``limit`` at most."""
    field = f"data.tasks[{task}].source"
    check_source(spec, field)
    out: list[Example] = []
    try:
        for item in iter_items(to_source(spec)):
            ex = Example.from_item(item, task)
            if spec.strip_docstring and "code" in ex.fields:
                ex = Example(task, {**ex.fields, "code": strip_docstrings(ex.fields["code"], spec.language)},
                             ex.target)
            if ex.target.strip() and all(v.strip() for v in ex.fields.values()):
                out.append(ex)
            if spec.limit is not None and len(out) >= spec.limit:
                break
    except DataNotFound as exc:
        raise NotFound(str(exc), field=f"{field}.{exc.key}") from None
    except DataError as exc:
        raise FailedPrecondition(str(exc), field=f"{field}.{exc.key}") from None
    except SourceError as exc:
        raise InvalidArgument(str(exc), field=f"{field}.{exc.key}") from None
    return out


def strip_docstrings(code: str, language: str) -> str:
    """``code`` without docstrings (Python, via the miner's AST rule) or Javadoc comments (Java),
    so a summarization input does not contain its own reference."""
    if language == "java":
        return re.sub(r"/\*\*.*?\*/\s*", "", code, flags=re.S)
    from codeeval.trainer.miner import remove_python_docstrings

    return remove_python_docstrings(code)


@register("mined")
def read_mined(source: Source) -> Iterator[Item]:
    """Functions with docstrings mined from a local source tree (or file); the docstring is the reference."""
    from codeeval.trainer.miner import mine

    assert source.path is not None
    for i, pair in enumerate(mine(source.path, source.language)):
        yield Item(id=f"{pair.path}:{pair.name}#{i}", fields={"code": pair.code}, reference=pair.summary,
                   source=pair.code)
