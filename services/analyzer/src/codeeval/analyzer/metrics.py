r"""Size and complexity: lizard for every language (cyclomatic complexity, NLOC, tokens, per
function) and radon's maintainability index for Python.

Costs: tens of milliseconds for a typical file, ~0.15 s for 256 KiB of real Java or C# (CodeXGLUE
methods in one class). lizard's tokenizer regexes are quadratic on some text (an unterminated
``"\`` or ``'\`` run, ``/* `` repeated, a ``<`` followed by a long run of ``?``, even inside a valid
string literal): ~0.2 s at 8 KiB, ~0.8 s at 16 KiB, minutes at 256 KiB. :func:`measure_bounded`
therefore measures a file of at most :data:`INLINE_CHARS` in-process (at most ~0.2 s on those
shapes) and a larger one in a worker process with a time budget: one forkserver worker kept across
calls (a few ms per file to send it over; the service starts it in its start-up probe), killed and
replaced at once when a file runs out of its budget (so the service's processes and descriptors
stay as they were).
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import threading
from importlib.metadata import version
from multiprocessing.pool import Pool

import lizard

from codeeval.analyzer.model import FileMetrics, FunctionMetrics, ToolInfo
from codeeval.kit import languages

#: Files of at most this many characters (8 KiB of ASCII) are measured in-process (the quadratic shapes: ~0.2 s).
INLINE_CHARS = 8 * 1024
#: Default budget of one file measured in the worker: ~60x a 256 KiB real file, for a loaded machine.
DEFAULT_BUDGET_SECONDS = 10.0
#: How long a new worker process may take to answer its first (trivial) file.
START_SECONDS = 60.0


class MetricsTimeout(Exception):
    """lizard ran out of its budget on a file (the worker was killed); the file has no metrics."""

    def __init__(self, budget_seconds: float) -> None:
        super().__init__(f"metrics unavailable: lizard gave up after {budget_seconds:g} s on this file")
        self.budget_seconds = budget_seconds


def tools() -> list[ToolInfo]:
    return [ToolInfo("lizard", version("lizard"), "defaults"),
            ToolInfo("radon", version("radon"), "mi_visit(multi=True)")]


def measure(language: str, text: str) -> FileMetrics:
    """Metrics of ``text`` (lines are ``text``'s own).

    Raises whatever lizard/radon raise, and ValueError when lizard reports a negative count (lizard
    1.24 gives a function holding a multi-line f-string a negative NLOC); the caller turns that
    into a per-file tool error.
    """
    info = lizard.analyze_file.analyze_source_code(f"file{languages.get(language).suffix}", text)
    if info.nloc < 0 or info.token_count < 0:
        raise ValueError(f"lizard reported a negative count for the file: nloc {info.nloc}, tokens {info.token_count}")
    functions = []
    for fn in info.function_list:
        counts = {"nloc": fn.nloc, "token_count": fn.token_count, "cyclomatic_complexity": fn.cyclomatic_complexity}
        negative = {k: v for k, v in counts.items() if v < 0}
        if negative:
            raise ValueError(f"lizard reported negative counts for {fn.name} (lines {fn.start_line}-{fn.end_line}): "
                             f"{negative}")
        functions.append(FunctionMetrics(
            name=fn.name, start_line=fn.start_line, end_line=fn.end_line,
            cyclomatic_complexity=fn.cyclomatic_complexity, nloc=fn.nloc, token_count=fn.token_count,
            parameter_count=fn.parameter_count))
    ccs = [f.cyclomatic_complexity for f in functions]
    metrics = FileMetrics(
        loc=len(text.splitlines()), nloc=info.nloc, token_count=info.token_count,
        average_cyclomatic_complexity=sum(ccs) / len(ccs) if ccs else 0.0,
        max_cyclomatic_complexity=max(ccs, default=0), functions=functions)
    if language == "python":
        from radon.metrics import mi_visit

        metrics.maintainability_index = float(mi_visit(text, multi=True))
    return metrics



class _Worker:
    """One worker process (forkserver, lizard imported once) that measures large files. Calls are
    serialised; a file that runs past its budget kills the worker and another is started at once, so
    that once started (:meth:`start`) the process and its descriptors are always there."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool: Pool | None = None

    def measure(self, language: str, text: str, budget_seconds: float) -> FileMetrics:
        with self._lock:
            if self._pool is None:
                self._pool = self._start()
            pending = self._pool.apply_async(measure, (language, text))
            try:
                return pending.get(budget_seconds)
            except multiprocessing.TimeoutError:
                pass
            del pending  # it refers to the pool, which must be collectable once closed
            self._close()
            with contextlib.suppress(RuntimeError):  # else the next call tries again
                self._pool = self._start()
            raise MetricsTimeout(budget_seconds)

    def start(self) -> None:
        with self._lock:
            if self._pool is None:
                self._pool = self._start()

    @staticmethod
    def _start() -> Pool:
        """A worker that has answered once: its start (a fork of the forkserver, which imports lizard
        once, and the re-import of ``__main__`` that multiprocessing does in a child) is not charged
        to the first file's budget. Raises RuntimeError when it does not answer within
        :data:`START_SECONDS`."""
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        pool = context.Pool(processes=1)
        try:
            pool.apply_async(measure, ("python", "x = 1\n")).get(START_SECONDS)
        except multiprocessing.TimeoutError:
            pool.terminate()
            pool.join()
            raise RuntimeError(f"the metrics worker process did not start within {START_SECONDS:g} s") from None
        return pool

    def close(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None
            gc.collect()  # a terminated Pool sits in reference cycles that hold its pipes' descriptors


_worker = _Worker()


def measure_bounded(language: str, text: str, budget_seconds: float = DEFAULT_BUDGET_SECONDS) -> FileMetrics:
    """:func:`measure`, bounded: a file longer than :data:`INLINE_CHARS` characters is measured in
    the worker process and raises :class:`MetricsTimeout` after ``budget_seconds`` (the worker is then
    killed and replaced). Raises what :func:`measure` raises, re-raised from the worker."""
    if len(text) <= INLINE_CHARS:
        return measure(language, text)
    return _worker.measure(language, text, budget_seconds)


def start() -> None:
    """Start the worker process now, if none is running (the service's start-up probe does, so that
    the process and its descriptors exist from the start). Raises RuntimeError when it does not
    answer within :data:`START_SECONDS`."""
    _worker.start()


def close() -> None:
    """Stop the worker process, if one is running (a later call starts another)."""
    _worker.close()
