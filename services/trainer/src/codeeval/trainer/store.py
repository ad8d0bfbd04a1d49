"""Embedded job store: one SQLite file, one row per job (indexed columns + the record as JSON).

Survives restarts of the service; WAL mode so readers never block the writer. All calls are
short (one row), so the async manager calls them directly. A damaged database file is refused at
open (:class:`JobStoreError` naming the file), never overwritten or dropped. Cost: O(1) per update,
O(page) per list; at open, one ``PRAGMA quick_check`` (O(database size): a job is one small row).
"""

from __future__ import annotations

import builtins
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

STATES = ("QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED")
TERMINAL = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT UNIQUE NOT NULL,
  state TEXT NOT NULL,
  created_at REAL NOT NULL,
  record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state);
"""


class JobStoreError(RuntimeError):
    """The job database cannot be used as it is; the message names the file and what to do."""


class JobStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        try:
            damage = [r[0] for r in self._db.execute("PRAGMA quick_check").fetchall()]
            if damage != ["ok"]:
                raise sqlite3.DatabaseError("; ".join(str(d) for d in damage[:3]))
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            self._db.close()
            why = " ".join(str(exc).split())
            raise JobStoreError(f"the job database {path} is damaged ({why}); it is left as it is: move it away "
                                "to start with no job history (adapters in the state dir are kept), or restore "
                                "it from a backup") from None
        self._lock = threading.Lock()

    def insert(self, job: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute("INSERT INTO jobs(id, state, created_at, record) VALUES (?, ?, ?, ?)",
                             (job["id"], job["state"], job["created_at"], json.dumps(job)))

    def update(self, job_id: str, **changes: Any) -> dict[str, Any]:
        with self._lock:
            row = self._db.execute("SELECT record FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise KeyError(job_id)
            job = {**json.loads(row[0]), **changes}
            self._db.execute("UPDATE jobs SET state = ?, record = ? WHERE id = ?",
                             (job["state"], json.dumps(job), job_id))
            return job

    def get(self, job_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT record FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def list(self, *, state: str | None = None, after_seq: int = 0, limit: int = 50) -> list[tuple[int, dict]]:
        """Jobs newest first; ``after_seq`` is the page token (seq of the last row already returned)."""
        query = "SELECT seq, record FROM jobs WHERE (? = 0 OR seq < ?)"
        args: list[Any] = [after_seq, after_seq]
        if state:
            query += " AND state = ?"
            args.append(state)
        query += " ORDER BY seq DESC LIMIT ?"
        args.append(limit)
        with self._lock:
            rows = self._db.execute(query, args).fetchall()
        return [(seq, json.loads(rec)) for seq, rec in rows]

    def in_states(self, *states: str) -> builtins.list[dict[str, Any]]:
        marks = ",".join("?" * len(states))
        with self._lock:
            rows = self._db.execute(f"SELECT record FROM jobs WHERE state IN ({marks}) ORDER BY seq", states).fetchall()
        return [json.loads(r[0]) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()
