"""A PMD JVM kept warm across batches: ``java/PmdWorker.java`` (trusted code shipped with the
analyzer) runs PMD 7 through its own API (``PmdAnalysis``, PMD's ``JsonRenderer``), one request per
batch over stdin, so a batch pays neither the JVM start nor rule loading nor JIT warm-up.

Contract: :meth:`PmdWorker.run` returns the same :class:`~codeeval.analyzer.pmd.PmdResult` as
:meth:`Pmd.run` (``pmd check`` over the same files and rule sets: same findings, same per-file
processing errors), and never raises for a failed run: a JVM that cannot start, dies (its heap
bound is ``-Xmx``, and ``ExitOnOutOfMemoryError`` ends it rather than leaving it half-alive) or
exceeds the timeout becomes ``run_error`` for that batch; the JVM is killed and the next batch
starts a fresh one. One batch at a time (a lock); threads inside PMD: ``threads``.

The helper is launched as a single-file source program (``java PmdWorker.java``), so it needs a
JVM with the ``jdk.compiler`` module (a JDK, not a bare JRE): :meth:`PmdWorker.start` reports
otherwise and the analyzer falls back to one ``pmd check`` JVM per batch. Costs: start-up (JVM,
in-memory compile of the helper, PMD's classes) ~2-4 s once; rule sets are loaded once per
rule-set list; memory up to the heap bound plus ~100 MB of JVM overhead.
"""

from __future__ import annotations

import collections
import json
import os
import selectors
import signal
import subprocess
import threading
import time
from importlib.resources import as_file, files
from pathlib import Path

from codeeval.analyzer.pmd import Pmd, PmdResult, ruleset_path

SOURCE = files("codeeval.analyzer").joinpath("java/PmdWorker.java")


class PmdWorker:
    """One warm PMD JVM for :class:`~codeeval.analyzer.pmd.Pmd`'s distribution."""

    def __init__(self, pmd: Pmd, heap_mb: int = 1024, threads: int = 0) -> None:
        self.pmd = pmd
        self.heap_mb = heap_mb
        self.threads = threads or os.cpu_count() or 1
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: collections.deque[str] = collections.deque(maxlen=20)
        self._lock = threading.Lock()
        self.starts = 0  # JVMs started so far (a restart after a death counts)

    def command(self, source: Path) -> list[str]:
        classpath = f"{self.pmd.home / 'conf'}:{self.pmd.home / 'lib'}/*"
        return [self.pmd.java, f"-Xmx{self.heap_mb}m", "-XX:+ExitOnOutOfMemoryError", "-cp", classpath, str(source)]

    def start(self) -> None:
        """Start the JVM unless it is running (raises OSError when it cannot be started)."""
        with self._lock:
            self._ensure()

    def _ensure(self) -> subprocess.Popen[bytes]:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        self._stderr.clear()
        with as_file(SOURCE) as source:
            proc = subprocess.Popen(self.command(source), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, start_new_session=True)
        threading.Thread(target=self._drain, args=(proc,), name="pmd-worker-stderr", daemon=True).start()
        self._proc = proc
        self.starts += 1
        return proc

    def _drain(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            line = raw.decode("utf-8", "replace").strip()
            if line and not line.startswith(" "):
                self._stderr.append(line)

    def close(self) -> None:
        """Stop the JVM (if any); a later :meth:`run` starts a fresh one."""
        with self._lock:
            self._kill()

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()

    def _why(self, what: str) -> str:
        tail = " | ".join(list(self._stderr)[-3:])
        return f"{what}: {tail}" if tail else what

    def run(self, paths: list[Path], report: Path, categories: list[str], timeout: float) -> PmdResult:
        """Analyse ``paths`` (absolute ``.java`` files) with the rule sets of ``categories``; PMD's
        JSON report is written to ``report`` and parsed; findings keyed by resolved path."""
        if not paths:
            return PmdResult()
        fields = [str(report), ",".join(ruleset_path(c) for c in categories), str(self.threads), *map(str, paths)]
        bad = next((f for f in fields if "\t" in f or "\n" in f), None)
        if bad is not None:
            raise ValueError(f"path {bad!r} contains a tab or a newline")
        request = ("\t".join(fields) + "\n").encode()
        with self._lock:
            try:
                proc = self._ensure()
            except OSError as exc:
                return PmdResult(run_error=f"pmd worker could not start: {exc}")
            reply = self._exchange(proc, request, timeout)
            if reply is None or reply == "":
                if reply is None:
                    what = f"pmd timed out after {timeout:.0f} s"
                else:
                    try:
                        what = f"pmd worker JVM exited with code {proc.wait(timeout=10)}"
                    except subprocess.TimeoutExpired:
                        what = "pmd worker JVM closed its output"
                self._kill()
                return PmdResult(run_error=self._why(what))
        if reply != "ok":
            return PmdResult(run_error=f"pmd failed: {reply.removeprefix('error ')}"[:500])
        return self.pmd.parse_report(json.loads(report.read_text()))

    @staticmethod
    def _exchange(proc: subprocess.Popen[bytes], request: bytes, timeout: float) -> str | None:
        """Send one request and read its one-line reply: None on timeout, "" when the JVM is gone
        (end of its output, a broken pipe)."""
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(request)
            proc.stdin.flush()
        except OSError:
            return ""
        end = time.monotonic() + timeout
        buffer = b""
        fd = proc.stdout.fileno()
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while b"\n" not in buffer:
                left = end - time.monotonic()
                if left <= 0 or not selector.select(left):
                    return None
                chunk = os.read(fd, 65536)
                if not chunk:
                    return ""
                buffer += chunk
        return buffer.split(b"\n", 1)[0].decode("utf-8", "replace").strip()
