"""The reader registry: one reader per format name, looked up with did-you-mean.

A reader is a function ``(Source) -> Iterable[Item]`` registered with :func:`register`; it reads
lazily where it can (a limit stops it early) and raises :mod:`codeeval.data.errors` naming the
file. :func:`iter_items` is the one way to read a source: it checks the source (known reader,
required options, local files present), runs the reader, drops the ids of
``options.exclude_ids_file`` and rejects duplicate ids. Packages above this one (the trainer's
miner) may register further readers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from codeeval.data.errors import DataError, DataNotFound, SourceError
from codeeval.data.records import Item, Source
from codeeval.kit.names import did_you_mean

ReadFn = Callable[[Source], Iterable[Item]]
FilesFn = Callable[[Path], list[Path]]


def _the_path(path: Path) -> list[Path]:
    return [path]


@dataclass(frozen=True)
class Reader:
    """A registered reader: ``files`` maps the source path to the local files it needs;
    ``needs_path`` is False for hub readers; ``options`` are options it cannot do without."""

    name: str
    read: ReadFn
    summary: str
    files: FilesFn = _the_path
    needs_path: bool = True
    options: tuple[str, ...] = ()


READERS: dict[str, Reader] = {}


def register(name: str, *, files: FilesFn = _the_path, needs_path: bool = True,
             options: tuple[str, ...] = ()) -> Callable[[ReadFn], ReadFn]:
    """Register the decorated function as reader ``name`` (its docstring's first line is the summary)."""

    def deco(fn: ReadFn) -> ReadFn:
        summary = (fn.__doc__ or name).strip().splitlines()[0]
        READERS[name] = Reader(name, fn, summary, files, needs_path, options)
        return fn

    return deco


def reader_names() -> list[str]:
    return sorted(READERS)


def get_reader(name: str) -> Reader:
    """The reader called ``name``; :class:`SourceError` (key ``reader``) with did-you-mean otherwise."""
    if name not in READERS:
        raise SourceError(f"unknown reader {name!r}{did_you_mean(name, READERS)}", key="reader")
    return READERS[name]


def required_files(source: Source) -> list[Path]:
    """The local files the source needs (none for hub readers)."""
    reader = get_reader(source.reader)
    if not reader.needs_path:
        return []
    if source.path is None or str(source.path) in ("", "."):
        raise SourceError(f"reader {source.reader!r} needs a path", key="path")
    return reader.files(source.path)


def check(source: Source) -> None:
    """Everything that can be checked without reading: the reader is known, its required options are
    set, its local files exist (:class:`DataNotFound` naming the first missing one)."""
    reader = get_reader(source.reader)
    for opt in reader.options:
        if not source.options.get(opt):
            raise SourceError(f"reader {source.reader!r} needs option {opt!r}", key=opt)
    for path in required_files(source):
        if not path.exists():
            raise DataNotFound(f"{path} does not exist")


def iter_items(source: Source) -> Iterator[Item]:
    """The source's items, lazily, after ``exclude_ids_file``; DataError on a repeated id."""
    check(source)
    exclude_file = source.options.get("exclude_ids_file")
    excluded = excluded_ids(Path(exclude_file), source.language) if exclude_file else set()
    seen: set[str] = set()
    for item in get_reader(source.reader).read(source):
        if item.id in excluded:
            continue
        if item.id in seen:
            raise DataError(f"item id {item.id!r} appears more than once in {source.path}")
        seen.add(item.id)
        yield item


def read_items(source: Source, limit: int | None = None) -> list[Item]:
    """The first ``limit`` items (all when None) of :func:`iter_items`. Cost: the reader's, stopped early."""
    out: list[Item] = []
    for item in iter_items(source):
        if limit is not None and len(out) >= limit:
            break
        out.append(item)
    return out


def excluded_ids(path: Path, language: str) -> set[str]:
    """Ids to drop: a JSON list, or a mapping whose keys name languages (``py``/``python``,
    ``java``...) to lists (the keys matching ``language``; all of them when none matches)."""
    if not path.is_file():
        raise DataNotFound(f"{path} does not exist", key="exclude_ids_file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{exc.lineno}: not JSON: {exc.msg}", key="exclude_ids_file") from None
    if isinstance(data, dict):
        picked = [v for k, v in data.items() if language[:2] in k.lower() or language in k.lower()]
        values = picked or list(data.values())
        return {str(x) for v in values for x in (v if isinstance(v, list) else [v])}
    return {str(x) for x in data}
