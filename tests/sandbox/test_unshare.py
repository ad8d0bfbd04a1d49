"""The unshare backend's own bookkeeping, on the real backend and a real jail (conftest's ``jail``):
a cancelled run still frees the jail, a run can neither swap its output directory for a symlink
(the service would otherwise follow it outside the jail) nor change, move or delete the copies of
its read-only inputs (a class it has yet to load, say)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from codeeval.sandbox.backends.base import Bind, SandboxCommand
from codeeval.sandbox.backends.unshare import UnshareBackend
from codeeval.sandbox.model import Limits

pytestmark = pytest.mark.asyncio(loop_scope="session")
LIMITS = Limits(wall_time_ms=20_000, cpu_time_ms=20_000, memory_bytes=256 << 20, output_bytes=4096,
                max_processes=16, max_file_bytes=1 << 20)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def backend(jail: Path) -> AsyncIterator[UnshareBackend]:
    b = UnshareBackend(jail=jail)
    await b.start()
    yield b
    await b.stop()


async def test_cancelled_run_frees_the_jail(backend: UnshareBackend):
    slow = asyncio.create_task(backend.execute(SandboxCommand(argv=["sleep", "30"], limits=LIMITS)))
    await asyncio.sleep(1.0)
    slow.cancel()
    with pytest.raises(asyncio.CancelledError):
        await slow
    done = await asyncio.wait_for(backend.execute(SandboxCommand(argv=["sh", "-c", "ls -A /tmp; echo ok"],
                                                                 limits=LIMITS)), 30)
    assert done.exit_code == 0 and not done.sandbox_failure, done
    assert done.stdout.split() == [b".codeeval", b"ok"]  # nothing of the cancelled run is left
    assert list(backend.tmp.iterdir()) == []


async def test_output_dir_cannot_be_swapped_for_a_symlink(backend: UnshareBackend, tmp_path: Path):
    out = tmp_path / "classes"
    out.mkdir(mode=0o777)
    out.chmod(0o777)
    swap = 'rm -rf "$1" && ln -s /usr/bin "$1"'  # $1: where the backend staged /out
    res = await backend.execute(SandboxCommand(argv=["sh", "-c", swap, "sh", "/out"], limits=LIMITS,
                                               binds=[Bind(out, "/out", writable=True)]))
    assert res.exit_code != 0 and b"Permission denied" in res.stderr, res
    assert not res.sandbox_failure, res
    assert list(out.iterdir()) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="read-only copies are root's only when the service is root")
async def test_read_only_inputs_cannot_be_changed_moved_or_deleted(backend: UnshareBackend, tmp_path: Path):
    src = tmp_path / "launcher"
    src.mkdir(mode=0o777)
    src.chmod(0o777)  # even a world-writable source dir is copied read-only
    (src / "Trusted.class").write_text("trusted\n")
    attack = "\n".join([
        'echo evil > "$1/Trusted.class"', 'echo evil > "$1/New.class"', 'chmod 777 "$1" "$1/Trusted.class"',
        'rm -f "$1/Trusted.class"', 'mv "$1" /tmp/moved', 'mv /tmp/.codeeval /tmp/moved', 'rm -rf /tmp/.codeeval',
        'mkdir -p /tmp/x && echo ok-tmp-writable > /tmp/x/f && cat /tmp/x/f', 'cat "$1/Trusted.class"', 'ls "$1"'])
    res = await backend.execute(SandboxCommand(argv=["sh", "-c", attack, "sh", "/launcher"], limits=LIMITS,
                                               binds=[Bind(src, "/launcher")]))
    assert not res.sandbox_failure, res
    assert res.stdout.split() == [b"ok-tmp-writable", b"trusted", b"Trusted.class"], res
    assert res.stderr.count(b"Permission denied") + res.stderr.count(b"Operation not permitted") >= 7, res.stderr


FILL_BYTES = ("block = b'x' * 3_000_000\n"
              "for i in range(10**6):\n    open(f'/tmp/f{i}', 'wb').write(block)\n")
FILL_ENTRIES = ("import os\nos.mkdir('/tmp/d')\n"
                "for i in range(10**6):\n    open(f'/tmp/d/{i}', 'w').close()\n")


@pytest.mark.parametrize("argv", [["python3", "-c", FILL_BYTES], ["python3", "-c", FILL_ENTRIES]],
                         ids=["bytes", "entries"])
async def test_work_dir_is_bounded_per_run(backend: UnshareBackend, argv: list[str]):
    """Many files each under RLIMIT_FSIZE (or a flood of empty ones) still stop at work_dir_bytes."""
    limits = Limits(wall_time_ms=60_000, cpu_time_ms=60_000, memory_bytes=256 << 20, output_bytes=4096,
                    max_processes=16, max_file_bytes=4 << 20)
    res = await backend.execute(SandboxCommand(argv=argv, limits=limits, work_dir_bytes=16 << 20))
    assert not res.timed_out and not res.sandbox_failure, res
    assert b"[sandbox] the work dir held more than its 16777216 bytes" in res.stderr, res.stderr[-300:]
    assert list(backend.tmp.iterdir()) == []  # and it is emptied after the run


async def test_capabilities_say_how_inputs_and_the_work_dir_are_protected(backend: UnshareBackend):
    details = backend.describe()
    assert details["read_only_inputs"] == ("root's, 0644" if os.geteuid() == 0 else
                                           "the run's own uid: read-only by mode only")
    assert details["work_dir_bound"] == "watchdog (walk)"  # the test jail's tmp is a plain directory
