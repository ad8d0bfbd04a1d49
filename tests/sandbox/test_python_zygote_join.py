"""The zygote path's cgroup join: the run's pid 1 (C2) moves itself into the run's groups through
descriptors the service opened, before any candidate code, and a join that fails is a sandbox
error that leaves the slot's zygote serving. Real bubblewrap, real cgroups, a real zygote; one slot,
no retries."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from conftest import zygote_executor_with_cgroups

from codeeval.sandbox.backends import cgroups
from codeeval.sandbox.executor import Executor
from codeeval.sandbox.model import Language, Limits, Outcome, RunRequest

ASYNC = pytest.mark.asyncio(loop_scope="module")
pytestmark = [pytest.mark.slow]
LIMITS = Limits(wall_time_ms=10000, memory_bytes=128 << 20)
OK = "def f():\n    return 1\n"
CHECK = "def check(c):\n    assert c() == 1\n"
#: ~240 MiB touched by four forked children while the module is imported, before the judge's first
#: call: each child stays under RLIMIT_AS (the run's 128 MiB), so only the memory group can stop them.
HUNGRY_AT_IMPORT = """import os, time
kids = []
for _ in range(4):
    pid = os.fork()
    if pid == 0:
        blob = bytearray(60 << 20)
        blob[::4096] = b"x" * len(blob[::4096])
        time.sleep(3)
        os._exit(0)
    kids.append(pid)
for pid in kids:
    os.waitpid(pid, 0)
""" + OK


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def engine() -> AsyncIterator[Executor]:
    eng = await zygote_executor_with_cgroups()
    yield eng
    await eng.stop()


def _zygote_pid(engine: Executor) -> int:
    (z,) = engine.backend.zygotes.values()  # type: ignore[attr-defined]
    assert z.proc is not None
    return int(z.proc.pid)


@ASYNC
async def test_the_memory_limit_holds_from_the_candidates_import(engine: Executor):
    """The run is in its memory group before its module runs: an import-time hog over the group's
    limit ends MEMORY_EXCEEDED, and the next run's figures are read from its own group."""
    res = await engine.execute(RunRequest(Language.PYTHON, HUNGRY_AT_IMPORT, CHECK, "f", limits=LIMITS))
    assert res.outcome is Outcome.MEMORY_EXCEEDED, (res.outcome, res.detail)
    ok = await engine.execute(RunRequest(Language.PYTHON, OK, CHECK, "f", limits=LIMITS))
    assert ok.outcome is Outcome.PASSED, (ok.outcome, ok.detail)
    assert ok.cpu_time_ms > 0 and ok.peak_memory_bytes > 0


@ASYNC
async def test_a_join_that_fails_is_a_sandbox_error_and_the_zygote_keeps_serving(engine: Executor,
                                                                                 monkeypatch: pytest.MonkeyPatch):
    warm = await engine.execute(RunRequest(Language.PYTHON, OK, CHECK, "f", limits=LIMITS))
    assert warm.outcome is Outcome.PASSED, (warm.outcome, warm.detail)
    pid = _zygote_pid(engine)

    def unwritable(self: cgroups.RunCgroup) -> list[int]:
        return [os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)]  # C2's write fails: EBADF

    monkeypatch.setattr(cgroups.RunCgroup, "open_self_join", unwritable)
    bad = await engine.execute(RunRequest(Language.PYTHON, OK, CHECK, "f", limits=LIMITS))
    assert bad.outcome is Outcome.SANDBOX_ERROR, (bad.outcome, bad.detail)
    assert "join the run's cgroup" in bad.detail, bad.detail
    monkeypatch.undo()
    again = await engine.execute(RunRequest(Language.PYTHON, OK, CHECK, "f", limits=LIMITS))
    assert again.outcome is Outcome.PASSED, (again.outcome, again.detail)
    assert _zygote_pid(engine) == pid, "a failed join is the run's failure, not the zygote's"


@ASYNC
async def test_a_source_larger_than_the_sockets_buffer_arrives_whole(engine: Executor):
    """The service sends what the run's socket takes at once and the rest from a task (a Unix socket
    buffers ~208 KiB by default on Linux; the largest source allowed is 256 KiB)."""
    size = 250 << 10
    source = f"X = '{'a' * size}'\ndef f():\n    return len(X)\n"
    res = await engine.execute(RunRequest(Language.PYTHON, source, f"def check(c):\n    assert c() == {size}\n", "f",
                                          limits=LIMITS))
    assert res.outcome is Outcome.PASSED, (res.outcome, res.detail)
