"""Fixtures of the data-layer tests: a real sandbox engine on the bubblewrap backend (skipped where
bubblewrap is not installed). The fixture files are named in ``data_fixtures.py``."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def engine() -> AsyncIterator[object]:
    if shutil.which("bwrap") is None or not os.path.exists("/usr/bin/python3"):
        pytest.skip("bubblewrap not installed")
    from codeeval.sandbox.executor import Executor
    from codeeval.sandbox.settings import SandboxSettings

    eng = Executor(SandboxSettings.load(max_concurrency=2, default_wall_time_ms=10000))
    await eng.start()
    yield eng
    await eng.stop()
