"""The run directory: one JSONL file per stage, appended record by record.

A record is written with one ``write`` of a whole line and flushed at once, so a crash or Ctrl-C
loses at most the record being written; a torn last line (no newline) is ignored on reading and
overwritten by the next append. A line that is not the last and does not parse was damaged after it
was written: reading refuses the file (:class:`~codeeval.data.DataError` naming the file and the
line) rather than dropping that record. A stage knows what is done by the keys already in its file, so a
resumed stage neither redoes nor duplicates work. :class:`RunDir` reads each stage file back as
its typed records (:mod:`codeeval.records`); records of an older layout that a stage can no longer
read (analysis.jsonl before it held one record per task) are skipped, so that stage redoes them.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol

from codeeval.data import DataError
from codeeval.records import Execution, Extraction, Program, Sample, SampleKey, TaskAnalysis, TaskScore

STAGES = ("generate", "extract", "execute", "analyze", "score", "judge")
FILES = {
    "generate": "generations.jsonl",
    "extract": "extractions.jsonl",
    "programs": "programs.jsonl",
    "execute": "executions.jsonl",
    "analyze": "analysis.jsonl",
    "score": "scores.jsonl",
    "judge": "judgements.jsonl",
}


class JsonRecord(Protocol):
    def to_json(self) -> dict[str, Any]: ...


class JsonlStore:
    """Append-only JSONL with tolerant reading."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def records(self) -> Iterator[dict[str, Any]]:
        if not self.path.exists():
            return
        with self.path.open("rb") as fh:
            for n, raw in enumerate(fh, 1):
                if not raw.endswith(b"\n"):
                    return  # torn last line: the write was interrupted
                try:
                    yield json.loads(raw)
                except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                    why = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8"
                    raise DataError(f"{self.path}: line {n} is damaged ({why}); it is not the torn last line "
                                    "of an interrupted write, so nothing is dropped silently: move the file "
                                    "away to redo its stage, or repair the line") from None

    def keys(self, key: Callable[[dict[str, Any]], Any]) -> set[Any]:
        return {key(r) for r in self.records()}

    def _repair(self) -> None:
        """Drop a torn last line so the next append starts on a fresh line."""
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            self.path.write_bytes(data[: data.rfind(b"\n") + 1])

    def append(self, records: Iterable[dict[str, Any] | JsonRecord]) -> int:
        """Append each record as one line, flushed, then fsync. A write that fails (a full disk) cuts
        the file back to its last whole record and raises OSError naming the file (every record
        written before is kept; the same run resumes once there is space)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._repair()
        n = 0
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            good = os.lseek(fd, 0, os.SEEK_END)
            try:
                for rec in records:
                    rec = rec if isinstance(rec, dict) else rec.to_json()
                    line = memoryview((json.dumps(rec, sort_keys=True, ensure_ascii=False) + "\n").encode())
                    while line:  # one write, unless the kernel takes it in parts
                        line = line[os.write(fd, line):]
                    good = os.lseek(fd, 0, os.SEEK_CUR)
                    n += 1
                os.fsync(fd)
            except OSError as exc:
                with contextlib.suppress(OSError):  # truncating frees space, so it normally works
                    os.ftruncate(fd, good)
                raise _named(exc, self.path) from None
        finally:
            os.close(fd)
        return n


def _named(exc: OSError, path: Path) -> OSError:
    """``exc`` with ``path`` as its file name and what to do, for the CLI's one-line error."""
    return OSError(exc.errno, f"{exc.strerror}; every whole record before it is kept: free space and run the same "
                              "command again to resume", str(path))


class RunDir:
    """A run's folder: ``receipt.json``, ``suite.yaml`` (the suite as run), stage files, results."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def store(self, name: str) -> JsonlStore:
        return JsonlStore(self.path / FILES[name])

    def write_json(self, name: str, data: Any) -> Path:
        target = self.path / name
        tmp = target.with_suffix(target.suffix + ".tmp")
        try:
            tmp.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
            tmp.replace(target)
        except OSError as exc:  # a full disk: the old file stays whole
            tmp.unlink(missing_ok=True)
            raise _named(exc, target) from None
        return target

    def read_json(self, name: str) -> Any:
        return json.loads((self.path / name).read_text(encoding="utf-8"))

    def exists(self, name: str) -> bool:
        return (self.path / name).exists()

    def samples(self) -> list[Sample]:
        return [Sample.from_json(r) for r in self.store("generate").records()]

    def extractions(self) -> list[Extraction]:
        return [Extraction.from_json(r) for r in self.store("extract").records()]

    def programs(self) -> dict[str, Program]:
        return {r["key"]: Program.from_json(r) for r in self.store("programs").records()}

    def executions(self) -> dict[str, Execution]:
        """By program key; a later record of a key (a retried SANDBOX_ERROR) replaces the earlier."""
        return {r["key"]: Execution.from_json(r) for r in self.store("execute").records()}

    def analyses(self) -> dict[str, TaskAnalysis]:
        return {r["task"]: TaskAnalysis.from_json(r) for r in self.store("analyze").records() if "task" in r}

    def scores(self) -> dict[str, TaskScore]:
        return {r["task"]: TaskScore.from_json(r) for r in self.store("score").records()}


def sample_key(rec: dict[str, Any]) -> SampleKey:
    return (rec["task"], rec["item"], int(rec["sample"]))
