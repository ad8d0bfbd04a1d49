"""The four services' start-up checks (their server.py glue): what cannot heal raises
FatalStartupError with the reason, what may heal stays a not-ready reason.

Each service's failure is faked here at its edge (a core's start, a probe's result, a scheduler task);
the same paths end to end, with real services, are in test_startup_real_services.py (analyzer without
PMD, sandbox with an unreachable workspace) and test_startup_fatal.py (a process that exits)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from codeeval.kit.errors import FailedPrecondition
from codeeval.kit.startup import FatalStartupError

pytest.importorskip("codeeval.sandbox")
pytest.importorskip("codeeval.generator")
pytest.importorskip("codeeval.trainer")


class _Core:
    """A generator core whose start fails with ``exc``."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    async def start(self) -> None:
        raise self.exc

    async def stop(self) -> None:
        return None

    def readiness(self) -> str | None:
        return "loading the model"


@pytest.mark.parametrize(("exc", "expected"), [
    (ImportError("libnuma.so.1: cannot open shared object file"), "libnuma1"),
    (FailedPrecondition("/dev/shm has 64 MiB free; vLLM's shared-memory queue needs 160 MiB", field="engine"),
     "/dev/shm has 64 MiB free"),
])
async def test_generator_start_that_cannot_load_is_fatal(exc, expected):
    from codeeval.generator import server
    from codeeval.generator.settings import GeneratorSettings

    service = server.create(GeneratorSettings(engine="vllm"), core=_Core(exc))  # type: ignore[arg-type]
    assert service.start is not None
    with pytest.raises(FatalStartupError, match=expected.replace("/", ".")):
        await service.start()


async def test_sandbox_probe_failing_for_good_is_fatal_and_a_timeout_is_not(tmp_path: Path):
    from codeeval.sandbox import server
    from codeeval.sandbox.settings import SandboxSettings

    service = server.create(SandboxSettings(uid_lock_dir=str(tmp_path / "uids")))
    executor = service.start.__self__  # type: ignore[union-attr]
    said: list[str] = []

    async def probe() -> str | None:
        return said[-1]

    executor.readiness = probe
    executor.started = True
    said.append("probe run ended in SANDBOX_ERROR: bwrap: Can't find source path /x/support: Permission denied")
    with pytest.raises(FatalStartupError, match="cannot run in the sandbox on this machine: .*Permission denied"):
        await service.readiness()
    said.append("probe run ended in TIMEOUT: wall time 10000 ms exceeded")
    assert await service.readiness() == said[-1]
    executor.started = False  # still starting: whatever it says is not final
    said.append("sandbox backend starting: Permission denied")
    assert await service.readiness() == said[-1]


async def test_trainer_scheduler_that_died_is_fatal(tmp_path: Path):
    from codeeval.trainer import server
    from codeeval.trainer.settings import TrainerSettings

    service = server.create(TrainerSettings(state_dir=tmp_path / "state"))
    manager = service.start.__self__  # type: ignore[union-attr]
    assert await service.readiness() == "job scheduler not running"

    async def dies() -> None:
        raise PermissionError(13, "Permission denied", str(tmp_path / "state" / "jobs"))

    manager._scheduler = asyncio.create_task(dies())
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    with pytest.raises(FatalStartupError, match="job scheduler stopped: PermissionError: .*Permission denied"):
        await service.readiness()
