"""Two sandbox instances on one host never share slot uids (without cgroups they would share
RLIMIT_NPROC): each claims its own uid block, runs really execute under their block's uids, and a
stopped instance's block is free again."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from pathlib import Path

import pytest
from conftest import bwrap_usable, settings

from codeeval.sandbox.backends import uids
from codeeval.sandbox.executor import Executor
from codeeval.sandbox.model import Language, Limits, Mode, RunRequest

pytestmark = [pytest.mark.skipif(not bwrap_usable(), reason="bubblewrap not installed"),
              pytest.mark.skipif(os.geteuid() != 0, reason="slot uids are used only when the service is root")]
WHOAMI = RunRequest(Language.PYTHON, "import os\nprint(os.getuid())\n", mode=Mode.RUN,
                    limits=Limits(wall_time_ms=10_000, cpu_time_ms=10_000))


def slot_uids(engine: Executor) -> set[int]:
    base = engine.backend.uid_base  # type: ignore[attr-defined]
    slots = engine.settings.max_concurrency
    return set(range(base, base + slots)) | set(range(base + uids.JUDGE_OFFSET, base + uids.JUDGE_OFFSET + slots))


async def host_uids_of_a_run(engine: Executor) -> set[int]:
    """The host uids a run really has (inside it is mapped): it execs a ``sleep`` with a unique
    argument, which the host finds in /proc."""
    marker = f"1.{secrets.randbelow(10**9):09d}"
    req = WHOAMI.evolve(source=f"import os\nos.execv('/bin/sleep', ['sleep', '{marker}'])\n")
    run = asyncio.create_task(engine.execute(req))
    found: set[int] = set()
    for _ in range(200):
        await asyncio.sleep(0.05)
        for status in Path("/proc").glob("[0-9]*/status"):
            with contextlib.suppress(OSError):
                if (status.parent / "cmdline").read_bytes() == f"sleep\0{marker}\0".encode():
                    line = next(x for x in status.read_text().splitlines() if x.startswith("Uid:"))
                    found.update(int(u) for u in line.split()[1:])
        if found or run.done():
            break
    res = await run
    assert res.passed, res.detail
    assert found, "the run's process was never seen"
    return found


@pytest.mark.asyncio(loop_scope="module")
async def test_two_engines_get_disjoint_uids_and_a_stopped_ones_block_is_reused():
    a = Executor(settings(max_concurrency=2))
    b = Executor(settings(max_concurrency=2))
    try:
        await a.backend.start()
        await b.backend.start()
        assert a.uids.base != b.uids.base
        assert a.backend.uid_base == a.uids.base and b.backend.uid_base == b.uids.base  # type: ignore[attr-defined]
        assert not slot_uids(a) & slot_uids(b)
        assert await host_uids_of_a_run(a) <= slot_uids(a)
        assert await host_uids_of_a_run(b) <= slot_uids(b)
    finally:
        await a.stop()
        await b.stop()
    freed = a.uids.base
    c = Executor(settings(max_concurrency=2))
    try:
        assert c.uids.base <= freed  # the first free block, which a's was
    finally:
        await c.stop()


def test_all_blocks_taken_is_a_clear_error(tmp_path):
    held = [uids.claim(70000, 4, tmp_path, 2) for _ in range(2)]
    try:
        assert held[1].base == held[0].base + uids.BLOCK
        with pytest.raises(RuntimeError, match=r"all 2 uid blocks from 70000 .*_UID_BLOCKS"):
            uids.claim(70000, 4, tmp_path, 2)
    finally:
        for h in held:
            h.release()
    uids.claim(70000, 4, tmp_path, 2).release()


def test_blocks_skip_the_nobody_uid(tmp_path):
    block = uids.claim(65000, 8, tmp_path, 3)  # 65000..65007 and 66000..: fine; 65534 is never a slot
    try:
        assert block.base == 65000
    finally:
        block.release()
    block = uids.claim(65530, 8, tmp_path, 3)  # 65530..65537 holds 65534: the next block
    try:
        assert block.base == 65530 + uids.BLOCK
    finally:
        block.release()
