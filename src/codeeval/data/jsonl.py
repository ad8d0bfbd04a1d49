"""The one JSON-lines helper: read and write ``.jsonl`` / ``.jsonl.gz`` (gzip by suffix), and read a
``.json`` file holding one JSON array (sanitized MBPP is published that way).

Reading streams line by line (a JSON array is loaded whole). Errors name the file and line:
:class:`~codeeval.data.errors.DataNotFound` when the file is missing,
:class:`~codeeval.data.errors.DataError` for text that is not JSON or a record that is not an object.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from codeeval.data.errors import DataError, DataNotFound


def open_text(path: Path, mode: str = "rt") -> IO[str]:
    """``path`` opened as UTF-8 text, through gzip when it ends in ``.gz``."""
    if path.suffix == ".gz":
        return gzip.open(path, mode, encoding="utf-8")  # type: ignore[return-value]
    return open(path, mode, encoding="utf-8")  # noqa: SIM115 - the caller closes it


def iter_lines(path: Path) -> Iterator[str]:
    """The lines of a (gzipped) text file, newline kept; DataNotFound when it is missing."""
    if not path.is_file():
        raise DataNotFound(f"{path} does not exist")
    with open_text(path) as fh:
        yield from fh


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    """The JSON objects of a JSONL file (blank lines skipped) or of a JSON array file."""
    if not path.is_file():
        raise DataNotFound(f"{path} does not exist")
    with open_text(path) as fh:
        head, skipped = fh.read(1), 0
        while head and head.isspace():
            skipped += head == "\n"
            head = fh.read(1)
        if head == "[":
            try:
                records = json.loads(head + fh.read())
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{exc.lineno}: not JSON: {exc.msg}") from None
            for n, rec in enumerate(records, 1):
                yield _object(rec, path, f"record {n}")
            return
        first = True
        for n, line in enumerate(fh, 1 + skipped):
            if first:
                line, first = head + line, False
            if line.strip():
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataError(f"{path}:{n}: not JSON: {exc.msg}") from None
                yield _object(rec, path, f"line {n}")


def _object(rec: Any, path: Path, where: str) -> dict[str, Any]:
    if not isinstance(rec, dict):
        raise DataError(f"{path}: {where} is a JSON {type(rec).__name__}, not an object")
    return rec


def write_records(path: Path, records: Iterable[dict[str, Any]]) -> int:
    """Write ``records`` as JSON lines (gzipped when ``path`` ends in ``.gz``); returns the count."""
    n = 0
    with open_text(path, "wt") as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
            n += 1
    return n
