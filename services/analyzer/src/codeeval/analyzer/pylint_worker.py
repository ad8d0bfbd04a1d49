"""pylint with a budget per file: the batch runs in one worker process (forkserver, pylint imported
once, kept across calls; the service starts it in its start-up probe) that streams each message and
each file it starts as it goes, so this side knows which file pylint is on.

Why: astroid's inference is exponential on some short files (``x1 = x0 + x0``, ``x2 = x1 + x1``, ...
then ``x60.count``: 957 bytes, not done after 90 s; ``x = x + x`` 3,000 times, 30 KB, likewise) and
pylint has no time bound of its own. A file that keeps pylint longer than the budget (each of its
two phases, building the tree and checking it, gets the whole budget), or on which the worker dies
(a crash in C), kills the worker: that file gets the tool error :data:`GAVE_UP` or :data:`CRASHED`, a
new worker is started at once (the service's processes and descriptors stay as they were) and the
batch's unfinished files are linted again without it; files pylint finished keep their findings.
The whole batch is also bounded by the call's deadline (at least 1 s): files not linted by then get
:data:`NOT_RUN`. Findings are those of an in-process run (the same :func:`pylint_runner.lint`).

Costs: pipe traffic per message (small); a worker start ~1-2 s (pylint's imports and a probe file),
paid at service start and after each file that ran out of its budget.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import tempfile
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from codeeval.analyzer import pylint_runner
from codeeval.analyzer.pylint_runner import PylintResult

#: Default budget of pylint on one file (each phase): ~10x a 256 KiB file of real code on a loaded machine.
DEFAULT_BUDGET_SECONDS = 30.0
#: How long a new worker may take to lint its probe file (pylint's imports included).
START_SECONDS = 60.0
GAVE_UP = "pylint gave up after {seconds:g} s on this file"
CRASHED = "pylint crashed on this file (its worker process ended with exit code {code})"
NOT_RUN = "pylint did not run on this file: the call's deadline passed while it checked other files"


def serve(conn: Connection) -> None:
    """The worker's loop: receive a list of paths, lint them, send ``("file", path)`` when pylint
    starts a file (once to build its tree, once to check it), ``("msg", fields)`` per message, then
    ``("end", "")`` (or ``("failed", reason)`` when pylint itself raised); until the pipe closes."""
    from pylint.reporters import CollectingReporter

    class Streaming(CollectingReporter):  # type: ignore[misc]
        def handle_message(self, msg: Any) -> None:
            conn.send(("msg", pylint_runner.message_fields(msg)))

        def on_set_current_module(self, module: str, filepath: str | None) -> None:
            if filepath:
                conn.send(("file", str(Path(filepath))))

    while True:
        try:
            paths = conn.recv()
        except (EOFError, OSError):
            return
        try:
            pylint_runner.lint(paths, Streaming())
        except Exception as exc:  # noqa: BLE001 - pylint itself failed: the caller says so for every file
            conn.send(("failed", f"pylint failed: {type(exc).__name__}: {exc}"))
        else:
            conn.send(("end", ""))


class _Attempt:
    """What one run of the worker over some files got: messages of the files it finished, the
    file it stopped on and why (None when it finished them all)."""

    def __init__(self) -> None:
        self.result = PylintResult()
        self.done: set[str] = set()
        self.stuck: str | None = None
        self.reason = ""
        self.failed = ""


class Worker:
    """The worker process and the pipe to it; calls are serialised."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: Any = None
        self._conn: Connection | None = None

    def start(self) -> None:
        """Start the worker if none runs; RuntimeError when it does not lint its probe file in time."""
        with self._lock:
            if self._conn is None:
                self._start()

    def close(self) -> None:
        with self._lock:
            self._stop()

    def run(self, paths: list[Path], budget_seconds: float, deadline: float | None = None) -> PylintResult:
        """Lint ``paths`` (absolute), each within ``budget_seconds`` a phase, the batch by ``deadline``
        (``time.monotonic()``, at least 1 s from now); findings and errors keyed by ``str(path)``."""
        end = None if deadline is None else max(deadline, time.monotonic() + 1.0)
        result = PylintResult()
        todo = [str(p) for p in paths]
        with self._lock:
            while todo:
                if self._conn is None:
                    try:
                        self._start()
                    except RuntimeError as exc:
                        result.errors.update(dict.fromkeys(todo, str(exc)))
                        break
                got = self._attempt(todo, budget_seconds, end)
                _merge(result, got.result, got.done)
                if got.failed:
                    result.errors.update(dict.fromkeys(todo, got.failed))
                    break
                if got.stuck is None:
                    _merge(result, got.result, set(todo))
                    break
                self._stop()
                result.errors[got.stuck] = got.reason
                todo = [p for p in todo if p not in got.done and p != got.stuck]
                if end is not None and time.monotonic() >= end:
                    result.errors.update(dict.fromkeys(todo, NOT_RUN))
                    break
            if self._conn is None:
                with contextlib.suppress(RuntimeError):  # at once, so the processes stay; else the next call tries
                    self._start()
        return result

    def _attempt(self, todo: list[str], budget: float, end: float | None) -> _Attempt:
        assert self._conn is not None
        got, wanted, seen = _Attempt(), set(todo), set()
        current: str | None = None
        kind: str
        value: Any
        checking = False  # whether ``current``'s event was its second (pylint checks it)
        self._conn.send(todo)
        last = time.monotonic()
        while True:
            limit = last + budget if end is None else min(last + budget, end)
            wait = limit - time.monotonic()
            try:
                ready = wait > 0 and self._conn.poll(wait)
                kind, value = self._conn.recv() if ready else ("timeout", "")
            except (EOFError, OSError):
                self._proc.join(5)
                kind, value = "crashed", CRASHED.format(code=self._proc.exitcode)
            if kind in ("timeout", "crashed"):
                got.stuck = current if current is not None else todo[0]
                got.reason = value or GAVE_UP.format(seconds=round(time.monotonic() - last, 1))
                return got
            if kind == "msg":
                pylint_runner.add_message(got.result, value)
            elif kind == "file" and value in wanted:
                if checking and current is not None:
                    got.done.add(current)
                checking, current, last = value in seen, value, time.monotonic()
                seen.add(value)
            elif kind == "failed":
                got.failed = value
                return got
            elif kind == "end":
                return got

    def _start(self) -> None:
        context = multiprocessing.get_context("forkserver")
        conn, child = context.Pipe()
        proc = context.Process(target=serve, args=(child,), name="analyzer-pylint", daemon=True)
        proc.start()
        child.close()
        self._proc, self._conn = proc, conn
        with tempfile.TemporaryDirectory(prefix="codeeval-pylint-probe-") as tmp:
            probe = Path(tmp).resolve() / "probe.py"
            probe.write_text("x = 1\n", encoding="utf-8")
            got = self._attempt([str(probe)], START_SECONDS, None)
        if got.stuck is not None or got.failed:
            self._stop()
            raise RuntimeError(f"the pylint worker process did not start: {got.reason or got.failed}")

    def _stop(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.join()
            self._proc.close()
        if self._conn is not None:
            self._conn.close()
        self._proc = self._conn = None


def _merge(into: PylintResult, got: PylintResult, keys: set[str]) -> None:
    for key in keys:
        if key in got.findings:
            into.findings[key] = got.findings[key]
        if key in got.errors:
            into.errors[key] = got.errors[key]


_worker = Worker()


def run(paths: list[Path], budget_seconds: float = DEFAULT_BUDGET_SECONDS,
        deadline: float | None = None) -> PylintResult:
    """:meth:`Worker.run` on the service's worker."""
    return _worker.run(paths, budget_seconds, deadline)


def start() -> None:
    """Start the service's worker now (the start-up probe does); RuntimeError when it cannot."""
    _worker.start()


def close() -> None:
    """Stop the service's worker, if one runs (a later call starts another)."""
    _worker.close()
