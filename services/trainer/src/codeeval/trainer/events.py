"""A training run's event log: one JSON object per line in ``<job dir>/events.jsonl``.

The worker appends (``progress``, ``evaluation``, ``message``, ``mixture``, ``result``); the job
manager and WatchJob read it from any offset, so watching replays history after a restart.
Kinds and payloads:
* progress: step, total_steps, epoch, loss, learning_rate, tokens_per_second, eta_seconds, seconds
  (the step's wall time in forward, backward and optimizer: clipping, step, scheduler, zero_grad)
* evaluation: step, metrics
* message: text
* mixture: counts (list of {task, available, effective, proportion})
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any


class EventLog:
    """Appends events; a no-op when ``path`` is None (DDP ranks other than 0)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._fh = open(path, "a", encoding="utf-8") if path else None  # noqa: SIM115 - long-lived

    def emit(self, kind: str, **payload: Any) -> None:
        if self._fh is None:
            return
        self._fh.write(json.dumps({"kind": kind, "time": time.time(), **payload}) + "\n")
        self._fh.flush()

    def message(self, text: str) -> None:
        self.emit("message", text=text)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def read_from(path: Path, offset: int) -> tuple[list[dict[str, Any]], int]:
    """Complete events after byte ``offset`` and the new offset (a half-written last line waits)."""
    if not path.exists():
        return [], offset
    with open(path, "rb") as fh:
        fh.seek(offset)
        data = fh.read()
    end = data.rfind(b"\n") + 1
    events = [json.loads(line) for line in data[:end].splitlines() if line.strip()]
    return events, offset + end
