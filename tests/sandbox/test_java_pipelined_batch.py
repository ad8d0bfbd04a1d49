"""A Java batch runs each sample as soon as javac has written its classes (runners/java.py,
``_javac_watched``), while javac goes on with the rest: every sample must still get exactly its own
classes, compile errors anywhere in the batch must stay with their samples, and the samples before,
between and after them must run once, on a real engine (real javac and JVM): bubblewrap, where
javac writes in place, and unshare, which copies javac's output back after it (no early start)."""

from __future__ import annotations

import pytest

from codeeval.sandbox.executor import Executor
from codeeval.sandbox.model import Language, Mode, Outcome, RunRequest, RunResult
from codeeval.sandbox.runners.java import JavaRunner

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.slow]

TEST = ("public class Main { public static void main(String[] a) {"
        " if (new Solution().id() != %d) throw new AssertionError(\"got \" + new Solution().id()); } }")
GOOD = "class Solution { public int id() { return %d; } }"
BAD_TYPE = "class Solution { public int id() { return \"%d\"; } }"
BAD_SYNTAX = "class Solution { public int id( { return %d; } }"
WRONG = "class Solution { public int id() { return %d + 1; } }"


def request(i: int, source: str) -> RunRequest:
    return RunRequest(Language.JAVA, source % i, TEST % i, id=str(i))


async def results(engine: Executor, reqs: list[RunRequest]) -> list[RunResult]:
    got: dict[int, RunResult] = {}
    async for i, res in engine.execute_batch(reqs):
        assert i not in got, f"sample {i} yielded twice"
        got[i] = res
    return [got[i] for i in range(len(reqs))]


@pytest.fixture(params=["engine", "unshare_engine"])
def any_engine(request: pytest.FixtureRequest) -> Executor:
    eng: Executor = request.getfixturevalue(request.param)
    return eng


async def test_samples_run_with_their_own_classes_around_compile_errors(any_engine: Executor):
    engine = any_engine
    runner = engine.runners[Language.JAVA]
    assert isinstance(runner, JavaRunner) and runner.output_in_place is (engine.backend.name != "unshare")
    kinds = {5: BAD_TYPE, 11: WRONG, 17: BAD_SYNTAX, 29: BAD_TYPE}
    reqs = [request(i, kinds.get(i, GOOD)) for i in range(30)]
    reqs[23] = reqs[23].evolve(mode=Mode.COMPILE_ONLY)
    want = {5: Outcome.COMPILE_ERROR, 11: Outcome.FAILED, 17: Outcome.COMPILE_ERROR, 29: Outcome.COMPILE_ERROR}
    got = await results(engine, reqs)
    assert [r.outcome for r in got] == [want.get(i, Outcome.PASSED) for i in range(30)], \
        [(i, r.outcome.name, r.detail, r.compile_output[:200]) for i, r in enumerate(got)]
    assert got[23].detail == "compiled"
    assert "incompatible types" in got[5].compile_output and "incompatible types" not in got[17].compile_output
    assert b"got 12" in got[11].stderr


async def test_a_batch_whose_last_sample_fails_to_compile(any_engine: Executor):
    """javac fails after writing every other sample's classes: those ran during javac or after it,
    each once, and the last one is the only compile error."""
    reqs = [request(i, GOOD) for i in range(12)] + [request(12, BAD_SYNTAX)]
    got = await results(any_engine, reqs)
    assert [r.outcome for r in got] == [Outcome.PASSED] * 12 + [Outcome.COMPILE_ERROR]
