"""Memory stays bounded without cgroups, as in a pod (``use_cgroups=False``): a /dev/shm fill,
Python memory growth in one process and across processes, and a JVM's direct allocations each end
as MEMORY_EXCEEDED on the real bubblewrap backend, and a small program still passes."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from conftest import bwrap_usable, settings

from codeeval.sandbox.executor import Executor
from codeeval.sandbox.model import Language, Limits, Mode, Outcome, RunRequest

pytestmark = [pytest.mark.asyncio(loop_scope="module"),
              pytest.mark.skipif(not bwrap_usable(), reason="bubblewrap not installed")]
LIMIT = 256 << 20
LIMITS = Limits(wall_time_ms=20_000, cpu_time_ms=20_000, memory_bytes=LIMIT, output_bytes=4096, max_processes=32,
                max_file_bytes=1 << 30)

SHM_FILL = """
chunk = b"x" * (1 << 20)
with open("/dev/shm/fill", "wb") as f:
    while True:
        f.write(chunk)
        f.flush()
"""
GROWTH = """
hoard = []
while True:
    hoard.append(b"x" * (8 << 20))
"""
FORKED_GROWTH = """
import os, time
for _ in range(6):
    if os.fork() == 0:
        hoard = b"x" * (60 << 20)  # each far below the limit, all together above it
        time.sleep(30)
        os._exit(0)
time.sleep(30)
"""
DIRECT = textwrap.dedent("""
    import java.nio.ByteBuffer;
    import java.util.ArrayList;
    public class Main {
        public static void main(String[] args) {
            ArrayList<ByteBuffer> hoard = new ArrayList<>();
            while (true) {
                ByteBuffer b = ByteBuffer.allocateDirect(8 << 20);
                for (int i = 0; i < b.capacity(); i += 4096) b.put(i, (byte) 1);
                hoard.add(b);
            }
        }
    }
""")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def podlike() -> AsyncIterator[Executor]:
    """An engine as in a pod: no cgroups, so only rlimits and the watchdog bound memory (Python
    only: the backend started, the Java launcher not compiled)."""
    eng = Executor(settings(cgroups=False, max_concurrency=1))
    await eng.backend.start()
    assert eng.backend.describe()["cgroups"].startswith("none")
    yield eng
    await eng.stop()


def python(source: str) -> RunRequest:
    return RunRequest(Language.PYTHON, source, mode=Mode.RUN, limits=LIMITS)


@pytest.mark.parametrize("source", [SHM_FILL, GROWTH, FORKED_GROWTH], ids=["shm_fill", "growth", "forked_growth"])
async def test_python_memory_is_bounded_without_cgroups(podlike: Executor, source: str):
    res = await podlike.execute(python(source))
    assert res.outcome is Outcome.MEMORY_EXCEEDED, (res.outcome, res.detail, res.stderr[-500:])
    assert not res.stdout_truncated


async def test_small_program_passes(podlike: Executor):
    res = await podlike.execute(python("data = b'x' * (16 << 20)\nprint(len(data))\n"))
    assert res.outcome is Outcome.PASSED, res.detail
    assert res.stdout == b"16777216\n" and res.peak_memory_bytes < LIMIT


@pytest.mark.slow
async def test_java_direct_allocation_is_bounded_without_cgroups():
    eng = Executor(settings(cgroups=False, max_concurrency=1))
    await eng.start()
    try:
        res = await eng.execute(RunRequest(Language.JAVA, DIRECT, mode=Mode.RUN, entry_point="Main", limits=LIMITS))
    finally:
        await eng.stop()
    assert res.outcome is Outcome.MEMORY_EXCEEDED, (res.outcome, res.detail, res.stderr[-500:])
