"""Core (grpc-free) behaviour of the engine on the real bubblewrap backend: bounded concurrency
with RESOURCE_EXHAUSTED, and a mixed benign/hostile batch run concurrently giving the same
verdicts as one by one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
import pytest_asyncio
from conftest import FIXTURES, bwrap_usable, settings

from codeeval.kit.errors import InvalidArgument, ResourceExhausted
from codeeval.sandbox.backends.base import Bind, SandboxCommand
from codeeval.sandbox.backends.bubblewrap import BubblewrapBackend
from codeeval.sandbox.executor import Executor
from codeeval.sandbox.model import Language, Limits, Mode, Outcome, ProcessResult, RunRequest

pytestmark = [pytest.mark.asyncio(loop_scope="module"),
              pytest.mark.skipif(not bwrap_usable(), reason="bubblewrap not installed")]
LIMITS = Limits(wall_time_ms=2000, cpu_time_ms=2000, memory_bytes=256 << 20, output_bytes=8 << 10,
                max_processes=32, max_file_bytes=4 << 20)
MIXED = ["passes", "fails", "fork_bomb", "memory_bomb", "output_flood", "infinite_loop", "exit0_before_asserts",
         "disk_fill", "kill_parent", "closed_stdout", "host_files_and_secrets", "zombies_and_daemon"]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def small() -> AsyncIterator[Executor]:
    """Python-only engine (no JVM start-up needed): 2 slots, 2 queue places."""
    eng = Executor(settings(max_concurrency=2, max_queue=2))
    await eng.backend.start()
    yield eng
    await eng.stop()


def sleeper(seconds: float) -> RunRequest:
    return RunRequest(Language.PYTHON, f"import time\ntime.sleep({seconds})\n", mode=Mode.RUN, limits=LIMITS)


async def test_queue_full_is_resource_exhausted_then_recovers(small: Executor):
    running = [asyncio.create_task(small.execute(sleeper(1.0))) for _ in range(4)]  # 2 run, 2 queue
    await asyncio.sleep(0.3)
    with pytest.raises(ResourceExhausted, match="capacity of 4"):
        await small.execute(sleeper(0))
    with pytest.raises(ResourceExhausted):
        async for _ in small.execute_batch([sleeper(0)]):
            pass
    assert all(r.passed for r in await asyncio.gather(*running))
    assert (await small.execute(sleeper(0))).passed  # capacity is given back


async def test_validation_names_fields(small: Executor):
    with pytest.raises(InvalidArgument, match=r"^limits.cpu_time_ms: .*maximum"):
        await small.execute(RunRequest(Language.PYTHON, "x = 1", limits=Limits(cpu_time_ms=10**9)))
    with pytest.raises(InvalidArgument, match=r"^requests: .*maximum of 1024"):
        async for _ in small.execute_batch([sleeper(0)] * 1025):
            pass
    with pytest.raises(InvalidArgument, match=r"^program.entry_point: "):
        await small.execute(RunRequest(Language.PYTHON, "x = 1", entry_point="f); import os; os.system('x'"))


async def test_mixed_batch_concurrent_matches_one_by_one(small: Executor):
    reqs = [RunRequest(Language.PYTHON, (FIXTURES / "python" / f"{name}.py").read_text(), stdin=b"0\n",
                       limits=LIMITS, id=name) for name in MIXED]
    sequential = {}
    for r in reqs:
        sequential[r.id] = (await small.execute(r)).outcome
    concurrent = {}
    engine = Executor(settings(max_concurrency=2, max_queue=64))
    await engine.backend.start()
    try:
        async for i, res in engine.execute_batch(reqs):
            concurrent[reqs[i].id] = res.outcome
    finally:
        await engine.stop()
    # a fork bomb may die of EAGAIN or of the wall limit, whichever its processes meet first: never a pass
    for verdicts in (sequential, concurrent):
        assert verdicts.pop("fork_bomb") in {Outcome.RUNTIME_ERROR, Outcome.TIMEOUT, Outcome.MEMORY_EXCEEDED}
    assert concurrent == sequential
    assert sequential["passes"] is Outcome.PASSED and sequential["fails"] is Outcome.FAILED


class FlakyBubblewrap(BubblewrapBackend):
    """The real backend, made to fail for real (bwrap cannot bind a missing path) on chosen attempts."""

    def __init__(self, failures: int, **kw) -> None:
        super().__init__(**kw)
        self.failures = failures

    async def execute(self, cmd: SandboxCommand) -> ProcessResult:
        if self.failures > 0:
            self.failures -= 1
            cmd = replace(cmd, binds=[*cmd.binds, Bind(Path("/nonexistent/codeeval"), "/broken")])
        return await super().execute(cmd)


@pytest.mark.parametrize(("failures", "outcome", "attempts"), [(1, Outcome.PASSED, 2), (5, Outcome.SANDBOX_ERROR, 3)])
async def test_sandbox_errors_are_retried_then_reported(failures: int, outcome: Outcome, attempts: int):
    s = settings(retries=2)
    engine = Executor(s, FlakyBubblewrap(failures, slots=s.max_concurrency, uid_base=s.uid_base))
    await engine.backend.start()
    try:
        res = await engine.execute(RunRequest(Language.PYTHON, "assert 1 + 1 == 2\n", limits=LIMITS))
    finally:
        await engine.stop()
    assert (res.outcome, res.attempts) == (outcome, attempts)
    if outcome is Outcome.SANDBOX_ERROR:
        assert "bwrap" in res.detail


class RecordingBubblewrap(BubblewrapBackend):
    """The real backend, recording the optional protocol calls the engine makes at start."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.calls: list[tuple[str, object]] = []

    def bind_workspace(self, path: Path) -> None:
        self.calls.append(("bind_workspace", path))

    def bind_trusted(self, path: Path) -> None:
        self.calls.append(("bind_trusted", path))

    async def warm(self, limits: Limits, work_dir_bytes: int) -> None:
        self.calls.append(("warm", (limits, work_dir_bytes)))


async def test_a_backend_inherits_the_protocols_defaults_and_the_engine_reads_passes_fds():
    from codeeval.sandbox.backends.docker import DockerBackend

    s = settings()
    plain = BubblewrapBackend(slots=s.max_concurrency, uid_base=s.uid_base)
    assert plain.passes_fds and plain.bind_workspace(Path("/")) is None and await plain.warm(LIMITS, 1) is None
    assert Executor(s, plain).runners[Language.PYTHON].channel_by_path is False
    assert Executor(s, DockerBackend(image="none", slots=1)).runners[Language.PYTHON].channel_by_path is True


@pytest.mark.slow
async def test_engine_start_binds_and_warms_through_the_protocol():
    s = settings()
    backend = RecordingBubblewrap(slots=s.max_concurrency, uid_base=s.uid_base)
    engine = Executor(s, backend)
    await engine.start()
    try:
        assert backend.calls == [("bind_workspace", engine.workspace.base),
                                 ("bind_trusted", engine.workspace.trusted_base),
                                 ("warm", (s.default_limits(), s.work_dir_bytes))]
    finally:
        await engine.stop()
