"""Runs forked from one warm zygote do not share random state, although the zygote preloads
``random`` (``statistics`` imports it): CPython reseeds it in every forked child
(``os.register_at_fork``), so each run draws its own numbers. Real bubblewrap, a real zygote;
one slot."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from conftest import zygote_executor

from codeeval.sandbox.executor import Executor
from codeeval.sandbox.model import Language, Limits, Outcome, RunRequest

ASYNC = pytest.mark.asyncio(loop_scope="module")
pytestmark = [pytest.mark.slow]
DRAW = "import random, sys\n\ndef f():\n    print(random.getrandbits(64), 'random' in sys.modules)\n    return 1\n"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def engine() -> AsyncIterator[Executor]:
    eng = await zygote_executor()
    yield eng
    await eng.stop()


@ASYNC
async def test_runs_of_one_zygote_draw_different_random_numbers(engine: Executor):
    draws = []
    for _ in range(3):
        res = await engine.execute(RunRequest(Language.PYTHON, DRAW, "def check(c):\n    assert c() == 1\n", "f",
                                              limits=Limits(wall_time_ms=10000)))
        assert res.outcome is Outcome.PASSED, (res.outcome, res.detail)
        draws.append(res.stdout.split()[0])
    assert engine.backend.describe()["python_zygote"] == "on"
    assert len(set(draws)) == 3, draws
