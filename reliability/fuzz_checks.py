"""What a bad request's answer may be, and what a service process looks like from /proc.

An answer holds when its status is OK or one of :data:`ALLOWED` (each a status the services document
for bad input) and, when it is not OK, its details name a field of the request (the services answer
``"<field path>: <why>"``). INTERNAL, UNKNOWN, a deadline hit (a hang) or UNAVAILABLE (a crash) never
hold. A service's resources are the RSS of its process and the open fds of its process tree, read
from ``/proc/<pid>/status`` and ``/proc/<pid>/fd`` (Linux only).
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

#: Statuses a bad request may get, and why each is right for bad input.
ALLOWED = {
    "INVALID_ARGUMENT": "the request is malformed: a field's value is out of its domain or limit",
    "NOT_FOUND": "a named thing (job id, adapter, config, template) does not exist",
    "FAILED_PRECONDITION": "the request is well-formed but the service's state refuses it (an adapter "
                           "trained with another template, an engine without runtime adapter loading)",
    "RESOURCE_EXHAUSTED": "a queue, a model length or a message size would be exceeded",
    "OUT_OF_RANGE": "a page token past the end",
    "ALREADY_EXISTS": "a name already taken (an adapter loaded under that name)",
}


@dataclass
class Answer:
    """What one request got: status name, details, seconds, and messages streamed before the end."""

    status: str
    details: str
    seconds: float
    messages: int = 0


def names_a_field(details: str, names: set[str]) -> bool:
    """Whether ``details`` names one of ``names`` (as a word: ``program.source`` names ``source``), or
    starts with ``request:`` (a request whose bytes do not parse outside any field, codeeval.kit.wire)."""
    if details.startswith("request: "):
        return True
    return bool(set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", details)) & names)


def violation(answer: Answer, names: set[str], extra_allowed: dict[str, str] | None = None) -> str | None:
    """Why ``answer`` does not hold, or None. ``extra_allowed``: statuses this RPC may also answer
    (with the reason, shown in the report)."""
    if answer.status == "OK":
        return None
    if answer.status == "DEADLINE_EXCEEDED":
        return f"no answer within {answer.seconds:.0f}s (a hang)"
    allowed = ALLOWED | (extra_allowed or {})
    if answer.status not in allowed:
        return f"{answer.status}: {answer.details[:200]}"
    if not names_a_field(answer.details, names):
        return f"{answer.status} without a field name: {answer.details[:200]}"
    return None


@dataclass
class Tally:
    """Per RPC: requests, statuses with counts, the slowest answer, violations (count per kind of
    violation, with the shortest reproducer seen)."""

    requests: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    max_seconds: float = 0.0
    violations: int = 0
    examples: dict[str, str] = field(default_factory=dict)

    def add(self, kind: str, answer: Answer, problem: str | None, reproducer: str) -> None:
        self.requests += 1
        self.kinds[kind] += 1
        self.statuses[answer.status] += 1
        self.max_seconds = max(self.max_seconds, answer.seconds)
        if problem is not None:
            self.violations += 1
            key = re.sub(r"'[^']*'|\"[^\"]*\"|[0-9a-f]{8,}|\d+", "N", problem)[:60]
            if key not in self.examples or len(reproducer) < len(self.examples[key].split(" <- ", 1)[1]):
                self.examples[key] = f"{problem} <- {reproducer}"


@dataclass(frozen=True)
class Resources:
    """A service's footprint: RSS of its own process (KiB), open fds of its process tree, and the
    tree's processes (pid -> command name)."""

    rss_kib: int
    fds: int
    processes: dict[int, str]


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            kids += [int(p) for p in task.read_text().split()]
        except OSError:
            continue
    return kids


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (from ``/proc/<pid>/task/*/children``)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += _children(p)
    return out


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


def resources(pid: int) -> Resources:
    """The footprint of service process ``pid`` now. Raises ProcessLookupError when it is gone."""
    if not os.path.exists(f"/proc/{pid}"):
        raise ProcessLookupError(f"pid: process {pid} is gone")
    fds = 0
    procs = {}
    for p in process_tree(pid):
        try:
            fds += len(os.listdir(f"/proc/{p}/fd"))
            procs[p] = _comm(p)
        except OSError:
            continue
    return Resources(rss_kib=_rss_kib(pid), fds=fds, processes=procs)


def resource_problems(before: Resources, after: Resources, rss_tolerance: float = 0.05) -> list[str]:
    """RSS grown more than ``rss_tolerance``, fds not exactly equal, processes left or lost."""
    out = []
    if after.rss_kib > before.rss_kib * (1 + rss_tolerance):
        out.append(f"RSS grew {before.rss_kib / 1024:.1f} -> {after.rss_kib / 1024:.1f} MiB "
                   f"(+{(after.rss_kib / before.rss_kib - 1) * 100:.1f}%, over {rss_tolerance:.0%})")
    if after.fds != before.fds:
        out.append(f"open fds {before.fds} -> {after.fds} (process tree)")
    if len(after.processes) != len(before.processes):
        out.append(f"processes {len(before.processes)} -> {len(after.processes)}: "
                   f"{sorted(after.processes.values())}")
    return out
