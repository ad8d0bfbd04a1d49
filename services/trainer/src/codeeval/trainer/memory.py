"""Process memory of a training run: glibc's allocator kept from hoarding freed activations, and
the peak memory of each phase of a run.

A training step allocates and frees hundreds of MiB of activations whose sizes change with each
batch's length. glibc raises its mmap threshold each time an mmapped block is freed (up to 32 MiB),
so from the second step on they come from the heap, whose freed blocks fragment and stay resident:
the process's peak grows step after step. :func:`trim_heap` gives the freed pages back to the kernel;
:class:`StepTrim` decides after each optimizer step whether the recipe calls it (``train.trim_heap``:
every step, never, or only once the resident set has grown by a given amount; figures and the
alternatives measured in the trainer's README, "Memory and speed").
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


def resident_bytes() -> int:
    """The process's resident set size now (``VmRSS``), in bytes; 0 where /proc is missing. Cost: one
    read of ``/proc/self/status``."""
    try:
        match = re.search(r"VmRSS:\s+(\d+) kB", _STATUS.read_text())
    except OSError:
        return 0
    return int(match.group(1)) * 1024 if match else 0


class StepTrim:
    """When the recipe trims the heap after an optimizer step (``train.trim_heap``).

    ``setting`` True: after every step; False: never; an int N >= 1: only after a step whose resident
    set (:func:`resident_bytes`, read after the step's activations are freed) exceeds the one after the
    first step this process runs by more than N MiB. The first step's figure is the reference because it holds the
    model, the optimizer state and one step's activations with none of the heap's later
    fragmentation; a trim drops the resident set back below it, so the next trim waits for the
    growth to come back. :meth:`decide` is the pure decision; :meth:`after_step` reads the resident
    set, decides and trims. Cost: one /proc read a step (none for True or False), plus the trim's own
    (its walk, and the next step faulting the released pages in again)."""

    def __init__(self, setting: bool | int) -> None:
        if not isinstance(setting, bool) and (not isinstance(setting, int) or setting < 1):
            raise ValueError(f"train.trim_heap: true, false or a whole number of MiB >= 1, got {setting!r}")
        self.setting = setting
        self.reference: int | None = None
        self.trims = 0

    def decide(self, rss: int) -> bool:
        """Whether to trim after a step that left ``rss`` bytes resident; the first call sets the
        reference of the threshold setting and never trims under it."""
        if isinstance(self.setting, bool):
            return self.setting
        if self.reference is None:
            self.reference = rss
            return False
        return rss > self.reference + self.setting * 2**20

    def after_step(self) -> bool:
        """Decide for the step just ended and trim if so; returns whether it trimmed."""
        if not self.decide(0 if isinstance(self.setting, bool) else resident_bytes()):
            return False
        self.trims += 1
        trim_heap()
        return True


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
