"""The bubblewrap backend's rlimits on its plain path (not the zygote's): set by the first ``sh``'s
``ulimit`` where the start's check passed and every byte limit is a whole number of ulimit's units,
else by ``prlimit``; either way the sandboxed program sees exactly the limits the run asked for, and
they hold (a file past RLIMIT_FSIZE is cut, RLIMIT_CPU ends a spinning loop)."""

from __future__ import annotations

import json
import os
import resource
import shutil
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from conftest import bwrap_usable

from codeeval.sandbox.backends.base import SandboxCommand
from codeeval.sandbox.backends.bubblewrap import (
    PROBE_LIMITS,
    BubblewrapBackend,
    rlimits,
    shell_sets_rlimits,
    ulimit_script,
)
from codeeval.sandbox.model import Limits

pytestmark = [pytest.mark.asyncio(loop_scope="module"),
              pytest.mark.skipif(not bwrap_usable(), reason="bubblewrap not installed")]

LIMITS = Limits(wall_time_ms=5000, cpu_time_ms=2500, memory_bytes=256 << 20, output_bytes=8 << 10,
                max_processes=32, max_file_bytes=4 << 20)
#: what the program reports: every rlimit the backend sets, as (soft, hard)
REPORT = """
import json, resource
names = ["RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_NOFILE", "RLIMIT_CORE", "RLIMIT_AS", "RLIMIT_NPROC"]
print(json.dumps({n: resource.getrlimit(getattr(resource, n)) for n in names}))
"""
DASH = os.path.realpath("/bin/sh").endswith("dash")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def backends() -> AsyncIterator[dict[str, BubblewrapBackend]]:
    """With cgroups (where the host has them) and without (RLIMIT_NPROC then bounds processes)."""
    out = {"cgroups": BubblewrapBackend(slots=1), "no_cgroups": BubblewrapBackend(slots=2, use_cgroups=False)}
    for b in out.values():
        await b.start()
    yield out
    for b in out.values():
        await b.stop()


def expected(limits: Limits, *, address_space: bool, nproc: int | None) -> dict[str, list[int]]:
    """What the program must see; RLIMIT_NPROC, when the backend sets none, is the service's own."""
    cpu_s = -(-limits.cpu_time_ms // 1000)
    return {"RLIMIT_CPU": [cpu_s, cpu_s + 1], "RLIMIT_FSIZE": [limits.max_file_bytes] * 2, "RLIMIT_NOFILE": [256, 256],
            "RLIMIT_CORE": [0, 0],
            "RLIMIT_AS": [limits.memory_bytes] * 2 if address_space else [resource.RLIM_INFINITY] * 2,
            "RLIMIT_NPROC": [nproc, nproc] if nproc is not None else list(resource.getrlimit(resource.RLIMIT_NPROC))}


async def report(backend: BubblewrapBackend, limits: Limits, *, address_space: bool = True) -> dict[str, list[int]]:
    res = await backend.execute(SandboxCommand(["python3", "-c", REPORT], limits,
                                               limit_address_space=address_space))
    assert res.exit_code == 0 and not res.sandbox_failure, (res.exit_code, res.sandbox_failure, res.stderr)
    return dict(json.loads(res.stdout))


async def test_the_shell_check_matches_dash_units():
    assert shell_sets_rlimits() is DASH
    if shutil.which("bash"):  # bash outside POSIX mode counts -f in KiB: the check must refuse it
        assert shell_sets_rlimits(shutil.which("bash") or "bash") is False
    assert shell_sets_rlimits("/nonexistent/sh") is False


async def test_ulimit_script_only_for_whole_units():
    assert ulimit_script(PROBE_LIMITS) is not None
    cmd = SandboxCommand(["true"], LIMITS)
    assert ulimit_script(rlimits(cmd, False, 0)) is not None
    odd_file = SandboxCommand(["true"], Limits(**{**LIMITS.__dict__, "max_file_bytes": (4 << 20) + 100}))
    assert ulimit_script(rlimits(odd_file, False, 0)) is None
    odd_memory = SandboxCommand(["true"], Limits(**{**LIMITS.__dict__, "memory_bytes": (256 << 20) + 1}))
    assert ulimit_script(rlimits(odd_memory, False, 0)) is None
    # the JVM's runs: no RLIMIT_AS, so an odd memory limit does not matter
    jvm = SandboxCommand(["true"], odd_memory.limits, limit_address_space=False)
    assert ulimit_script(rlimits(jvm, False, 0)) is not None


@pytest.mark.parametrize("file_bytes", [4 << 20, (4 << 20) + 100], ids=["whole-blocks", "odd-bytes"])
@pytest.mark.parametrize("address_space", [True, False], ids=["as", "no-as"])
async def test_sandboxed_program_sees_exact_limits(backends: dict[str, BubblewrapBackend], file_bytes: int,
                                                   address_space: bool):
    limits = Limits(**{**LIMITS.__dict__, "max_file_bytes": file_bytes})
    b = backends["cgroups"]
    assert b.shell_ulimit is DASH and b.describe()["rlimits"] == ("sh ulimit" if DASH else "prlimit")
    nproc = None if b.cgroups is not None else limits.max_processes
    assert await report(b, limits, address_space=address_space) == expected(limits, address_space=address_space,
                                                                              nproc=nproc)


async def test_without_cgroups_nproc_is_set(backends: dict[str, BubblewrapBackend]):
    b = backends["no_cgroups"]
    nproc = LIMITS.max_processes if b.is_root else LIMITS.max_processes * b.slots + 64
    assert await report(b, LIMITS) == expected(LIMITS, address_space=True, nproc=nproc)


async def test_limits_are_enforced(backends: dict[str, BubblewrapBackend]):
    b = backends["cgroups"]
    write = ("import sys\ntry:\n    open('big', 'wb').write(b'x' * (5 << 20))\nexcept OSError as e:\n"
             "    print('EFBIG', e.errno)\nimport os\nprint(os.path.getsize('big'))\n")
    res = await b.execute(SandboxCommand(["python3", "-c", write], LIMITS))
    assert res.stdout.split() == [b"EFBIG", b"27", str(LIMITS.max_file_bytes).encode()], (res.stdout, res.stderr)
    spin = SandboxCommand(["python3", "-c", "while True: pass"], Limits(**{**LIMITS.__dict__, "cpu_time_ms": 1000}))
    res = await b.execute(spin)  # without RLIMIT_CPU it would run to the 5 s wall limit
    assert res.signal == 24 and not res.timed_out, (res.exit_code, res.signal, res.timed_out, res.stderr)
