"""Start-up failures that cannot heal, and how the parent of a local service learns of them.

A service's ``start`` or ``readiness`` raises :class:`FatalStartupError` when it will never become
ready unless someone changes the machine or the settings: a permission error, a missing toolchain or
library (``vllm._C`` failing to import, no ``javac``), too small a ``/dev/shm``. The bootstrap
(:mod:`codeeval.kit.server`) then logs the reason, writes it to stderr and to the *fatal file* beside
the ready file, and the process exits with :data:`EXIT_FATAL`. Anything ``start`` raises is fatal too
(it runs once, so nothing would retry it); a reason that ``readiness`` *returns* is taken as
transient and re-checked.

While not ready, a server started with a ready file keeps its latest not-ready reason in the
*reason file* beside it; :class:`codeeval.kit.client.LocalService` shows it while it waits and
raises :class:`ServiceStartError` (reason + log path) when the process exits instead.
Cost: one small file write per change of reason; reads are one ``stat`` + read per poll.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Exit status of a service process whose start-up self-check failed for good.
EXIT_FATAL = 3

#: Lower-case fragments of a failure's text that no retry can fix (checked by :func:`unhealable`).
UNHEALABLE_MARKERS = ("permission denied", "operation not permitted", "errno 13", "cannot open shared object",
                      "no such file or directory", "command not found")


class FatalStartupError(RuntimeError):
    """The service cannot become ready on this machine with these settings; the message says why
    and, where it can, what to change."""


class ServiceStartError(RuntimeError):
    """A local service did not start: ``reason`` is what it reported (or the end of its log), and
    ``log_file`` the log to read for the rest."""

    def __init__(self, service: str, reason: str, log_file: Path | None) -> None:
        where = f" (log: {log_file})" if log_file is not None else ""
        super().__init__(f"{service} service failed to start: {reason}{where}")
        self.service = service
        self.reason = reason
        self.log_file = log_file


def unhealable(text: str) -> bool:
    """Whether a failure's text names a cause no retry fixes (see :data:`UNHEALABLE_MARKERS`)."""
    low = text.lower()
    return any(marker in low for marker in UNHEALABLE_MARKERS)


def reason_file(ready_file: Path) -> Path:
    """Where a server started with ``ready_file`` keeps its latest not-ready reason."""
    return ready_file.with_name(ready_file.name + ".reason")


def fatal_file(ready_file: Path) -> Path:
    """Where a server started with ``ready_file`` writes the reason it cannot start."""
    return ready_file.with_name(ready_file.name + ".fatal")


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so that a reader never sees half of it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def read_optional(path: Path) -> str | None:
    """The stripped text of ``path``, or None when it does not exist (yet) or is empty."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    except FileNotFoundError:
        return None
    return text or None
