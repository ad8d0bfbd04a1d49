"""The zygote path's run cgroups (bubblewrap as root, cgroups on): each run gets a group of its own,
made (in a thread) while the slot's previous run ran (``_spare``) when the limits match and made on
the spot when they do not, and removed after its result; nothing is left when the engine stops. Real
bubblewrap, real cgroups, a real zygote; one slot, no retries."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from conftest import bwrap_usable, settings, zygote_executor_with_cgroups

from codeeval.sandbox.backends import cgroups
from codeeval.sandbox.executor import Executor
from codeeval.sandbox.model import Language, Limits, Outcome, RunRequest

ASYNC = pytest.mark.asyncio(loop_scope="module")
pytestmark = [pytest.mark.slow]
LIMITS = Limits(wall_time_ms=10000, memory_bytes=256 << 20)
OK = "def f():\n    return 1\n"
CHECK = "def check(c):\n    assert c() == 1\n"
#: Allocates ~180 MiB (inside 256 MiB, over 128 MiB).
HUNGRY = "def f():\n    blob = bytearray(180 << 20)\n    blob[::4096] = b'x' * len(blob[::4096])\n    return 1\n"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def engine() -> AsyncIterator[Executor]:
    eng = await zygote_executor_with_cgroups()
    yield eng
    await eng.stop()


def _groups(engine: Executor) -> set[Path]:
    parents = engine.backend.cgroups.parents  # type: ignore[attr-defined]
    return {d for p in parents.values() for d in p.iterdir() if d.is_dir()}


async def _settled(engine: Executor) -> set[Path]:
    """The run groups once the backend's cgroup work in threads is done (spares made, finished
    runs' groups removed)."""
    for _ in range(250):
        if not engine.backend._retiring and not engine.backend._chores:  # type: ignore[attr-defined]
            break
        await asyncio.sleep(0.02)
    return _groups(engine)


@ASYNC
async def test_each_run_gets_a_fresh_group_made_ahead_and_removed_after(engine: Executor,
                                                                         monkeypatch: pytest.MonkeyPatch):
    made: list[str] = []
    create = cgroups.Cgroups.create

    def counting(self: cgroups.Cgroups, memory_bytes: int, max_processes: int) -> cgroups.RunCgroup:
        run = create(self, memory_bytes, max_processes)
        made.append(next(iter(run.dirs.values())).name)
        return run

    monkeypatch.setattr(cgroups.Cgroups, "create", counting)
    seen: list[set[Path]] = []
    for _ in range(4):
        res = await engine.execute(RunRequest(Language.PYTHON, OK, CHECK, "f", limits=LIMITS))
        assert res.outcome is Outcome.PASSED, (res.outcome, res.detail)
        assert res.cpu_time_ms > 0 and res.peak_memory_bytes > 0  # read from the group the run was in
        seen.append(await _settled(engine))
    # after each run: only the spare made during it is left (one name in each controller)
    assert all(len({d.name for d in groups}) == 1 for groups in seen), seen
    names = [next(iter(groups)).name for groups in seen]
    assert len(set(names)) == 4, "every run's group is new"
    assert made[-4:] == names, (made, names)  # each spare was made during the run before it was used


@ASYNC
async def test_a_spare_made_for_other_limits_is_not_used(engine: Executor):
    roomy = await engine.execute(RunRequest(Language.PYTHON, HUNGRY, CHECK, "f", limits=LIMITS))
    assert roomy.outcome is Outcome.PASSED, (roomy.outcome, roomy.detail)
    tight = Limits(wall_time_ms=10000, memory_bytes=128 << 20)
    res = await engine.execute(RunRequest(Language.PYTHON, HUNGRY, CHECK, "f", limits=tight))
    assert res.outcome is Outcome.MEMORY_EXCEEDED, (res.outcome, res.detail)
    await _settled(engine)
    memory = engine.backend.cgroups.parents["memory"]  # type: ignore[attr-defined]
    limit = "memory.limit_in_bytes" if engine.backend.cgroups.version == 1 else "memory.max"  # type: ignore[attr-defined]
    spares = [int((d / limit).read_text()) for d in memory.iterdir() if d.is_dir()]
    assert spares == [128 << 20], spares  # the spare made during the tight run has its limit


@ASYNC
async def test_stop_leaves_no_group():
    if not bwrap_usable() or os.geteuid() != 0:
        pytest.skip("the zygote needs bubblewrap and root")
    eng = Executor(settings(python_zygote=True, max_concurrency=1, retries=0))
    await eng.start()
    try:
        if eng.backend.cgroups is None:  # type: ignore[attr-defined]
            pytest.skip("no writable cgroup tree on this host")
        res = await eng.execute(RunRequest(Language.PYTHON, OK, CHECK, "f", limits=LIMITS))
        assert res.outcome is Outcome.PASSED
        parents = list(eng.backend.cgroups.parents.values())  # type: ignore[attr-defined]
        assert _groups(eng), "the spare exists until stop"
    finally:
        await eng.stop()
    assert not any(p.exists() for p in parents), parents
