"""The run directory: one JSONL file per stage, appended record by record.

A record is written with one ``write`` of a whole line and flushed at once, so a crash or Ctrl-C
loses at most the record being written; a torn last line (no newline) is ignored on reading and
overwritten by the next append. A stage knows what is done by the keys already in its file, so a
resumed stage neither redoes nor duplicates work.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

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


class JsonlStore:
    """Append-only JSONL with tolerant reading."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def records(self) -> Iterator[dict[str, Any]]:
        if not self.path.exists():
            return
        with self.path.open("rb") as fh:
            for raw in fh:
                if not raw.endswith(b"\n"):
                    return  # torn last line: the write was interrupted
                try:
                    yield json.loads(raw)
                except json.JSONDecodeError:
                    continue

    def keys(self, key: Callable[[dict[str, Any]], Any]) -> set[Any]:
        return {key(r) for r in self.records()}

    def _repair(self) -> None:
        """Drop a torn last line so the next append starts on a fresh line."""
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            self.path.write_bytes(data[: data.rfind(b"\n") + 1])

    def append(self, records: Iterable[dict[str, Any]]) -> int:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._repair()
        n = 0
        with self.path.open("ab") as fh:
            for rec in records:
                fh.write((json.dumps(rec, sort_keys=True, ensure_ascii=False) + "\n").encode())
                fh.flush()
                n += 1
            os.fsync(fh.fileno())
        return n


class RunDir:
    """A run's folder: ``receipt.json``, ``suite.yaml`` (the suite as run), stage files, results."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def store(self, name: str) -> JsonlStore:
        return JsonlStore(self.path / FILES[name])

    def write_json(self, name: str, data: Any) -> Path:
        target = self.path / name
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
        tmp.replace(target)
        return target

    def read_json(self, name: str) -> Any:
        return json.loads((self.path / name).read_text(encoding="utf-8"))

    def exists(self, name: str) -> bool:
        return (self.path / name).exists()


def sample_key(rec: dict[str, Any]) -> tuple[str, str, int]:
    return (rec["task"], rec["item"], int(rec["sample"]))
