"""Process memory of a training run: glibc's allocator kept from hoarding freed activations, and
the peak memory of each phase of a run.

A training step allocates and frees hundreds of MiB of activations whose sizes change with each
batch's length. glibc raises its mmap threshold each time an mmapped block is freed (up to 32 MiB),
so from the second step on they come from the heap, whose freed blocks fragment and stay resident:
the process's peak grows step after step. :func:`trim_heap`, called by the recipe after every
optimizer step, gives the freed pages back to the kernel (figures and the alternatives measured in
the trainer's README, "Memory and speed").
"""

from __future__ import annotations

import ctypes
import re
import resource
import time
from pathlib import Path

import torch

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 - raises AttributeError off glibc
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _glibc()


def trim_heap() -> bool:
    """Give every whole free page of glibc's heap back to the kernel (``malloc_trim(0)``); live memory is
    untouched. Returns whether anything was released (False off glibc). Cost: a walk over the heap's
    free chunks (milliseconds), and the next step faults the released pages in again (fewer faults than
    mapping each large block afresh: measured in the README); numerics are unchanged."""
    return bool(_LIBC.malloc_trim(0)) if _LIBC is not None else False


class PhasePeaks:
    """Peak memory of each phase of a run, in bytes: peak CUDA allocation on a GPU, else peak
    resident set size. Each :meth:`mark` ends a phase and starts the next by resetting the
    high-water mark (``/proc/self/clear_refs``; this also resets ``getrusage``'s ``ru_maxrss``,
    so use :attr:`peak` for the whole run). Where the reset is not allowed, each figure is the
    peak so far and :attr:`cumulative` is True. :attr:`cpu_seconds` holds each phase's CPU time
    (all threads of the process), a cost that load on a shared machine inflates far less than
    wall time; :attr:`system_seconds` the part of it spent in the kernel and :attr:`faults` the
    minor page faults (the price of memory given back to the kernel and taken again). Cost: a read
    of ``/proc/self/status`` and a ``getrusage`` per mark."""

    def __init__(self) -> None:
        self.phases: list[tuple[str, int]] = []
        self.cpu_seconds: dict[str, float] = {}
        self.system_seconds: dict[str, float] = {}
        self.faults: dict[str, int] = {}
        self.cumulative = False
        self._reset()
        self._cpu = time.process_time()
        self._usage = resource.getrusage(resource.RUSAGE_SELF)

    def mark(self, name: str) -> None:
        self.phases.append((name, self._high_water()))
        now, usage = time.process_time(), resource.getrusage(resource.RUSAGE_SELF)
        self.cpu_seconds[name], self._cpu = now - self._cpu, now
        self.system_seconds[name] = usage.ru_stime - self._usage.ru_stime
        self.faults[name] = usage.ru_minflt - self._usage.ru_minflt
        self._usage = usage
        self._reset()

    @property
    def peak(self) -> int:
        return max((b for _, b in self.phases), default=0)

    @staticmethod
    def _high_water() -> int:
        if torch.cuda.is_available():
            return int(torch.cuda.max_memory_allocated())
        match = re.search(r"VmHWM:\s+(\d+) kB", _STATUS.read_text())
        return int(match.group(1)) * 1024 if match else 0

    def _reset(self) -> None:
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
            return
        try:
            _CLEAR_REFS.write_text("5")
        except OSError:
            self.cumulative = True
