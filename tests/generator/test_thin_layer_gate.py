"""AdapterGate's phases: each side is admitted in large batches (what makes the service thin with
base and adapter requests mixed), never base beside an adapter, nobody starves."""

from __future__ import annotations

import asyncio

from codeeval.generator.gate import AdapterGate


async def _hold(gate: AdapterGate, key: str | None, log: list[dict[str | None, int]], release: asyncio.Event) -> None:
    async with gate.admit(key):
        log.append(gate.in_flight())
        await release.wait()


async def test_interleaved_arrivals_run_in_two_phases_not_one_by_one() -> None:
    gate = AdapterGate()
    log: list[dict[str | None, int]] = []
    first, second = asyncio.Event(), asyncio.Event()
    keys = [None, "a0", "a1"] * 4
    tasks = [asyncio.create_task(_hold(gate, k, log, first if k is None else second)) for k in keys]
    await asyncio.sleep(0.01)
    # the first base request opened a base phase: every base request that arrived before a completion joined it
    assert gate.in_flight() == {None: 4}
    first.set()
    await asyncio.sleep(0.01)
    assert gate.in_flight() == {"a0": 4, "a1": 4}, "all adapter waiters start together when base drains"
    second.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert gate.in_flight() == {}
    assert not any(s.get(None, 0) and len(s) > 1 for s in log)


async def test_a_closed_phase_takes_no_newcomers_while_the_other_side_waits() -> None:
    gate = AdapterGate()
    log: list[dict[str | None, int]] = []
    hold_a, hold_base, hold_late = asyncio.Event(), asyncio.Event(), asyncio.Event()
    a = [asyncio.create_task(_hold(gate, "a", log, hold_a)) for _ in range(2)]
    await asyncio.sleep(0)
    base = asyncio.create_task(_hold(gate, None, log, hold_base))
    await asyncio.sleep(0)
    async with gate.admit("b"):   # joins the open phase (no completion yet), then closes it
        assert gate.in_flight() == {"a": 2, "b": 1}
    late = asyncio.create_task(_hold(gate, "c", log, hold_late))
    await asyncio.sleep(0.01)
    assert gate.in_flight() == {"a": 2}, "the closed phase must not take c while base waits"
    hold_a.set()
    await asyncio.sleep(0.01)
    assert gate.in_flight() == {None: 1}
    hold_base.set()
    await asyncio.sleep(0.01)
    assert gate.in_flight() == {"c": 1}
    hold_late.set()
    await asyncio.wait_for(asyncio.gather(*a, base, late), 5)


async def test_one_side_alone_is_never_held_back_by_its_own_completions() -> None:
    gate = AdapterGate()
    peak = 0
    release = asyncio.Event()

    async def quick() -> None:
        async with gate.admit(None):
            pass

    async def slow() -> None:
        nonlocal peak
        async with gate.admit(None):
            peak = max(peak, gate.in_flight().get(None, 0))
            await release.wait()

    await quick()          # a completion: the phase is closed, but nobody of the other side waits
    holders = [asyncio.create_task(slow()) for _ in range(5)]
    await asyncio.sleep(0.01)
    assert peak == 5
    release.set()
    await asyncio.gather(*holders)


async def test_cancelled_waiters_leave_no_slot_and_do_not_block_the_next_phase() -> None:
    gate = AdapterGate()
    release = asyncio.Event()
    log: list[dict[str | None, int]] = []
    running = asyncio.create_task(_hold(gate, "a", log, release))
    await asyncio.sleep(0)
    waiters = [asyncio.create_task(_hold(gate, None, log, release)) for _ in range(3)]
    await asyncio.sleep(0.01)
    for w in waiters[:2]:
        w.cancel()
    release.set()
    await asyncio.wait_for(asyncio.gather(running, waiters[2]), 5)
    await asyncio.gather(*waiters, return_exceptions=True)
    assert gate.in_flight() == {}
    async with gate.admit("b"):
        assert gate.in_flight() == {"b": 1}
