"""Java bad input on a real engine (real javac and JVM in bubblewrap): the largest sources of the shapes
that made the runner's source checks quadratic get their verdicts, and a compile is bounded by the
request's wall-time limit plus runners/java.py's COMPILE_GRACE_MS, ending as a COMPILE_ERROR that names
the limit, alone or inside a batch whose other candidates still pass (found by the full bad-input run:
a test of 150 KiB of newlines got no answer within 60 s; a 200-byte program kept javac busy for the
old fixed 120 s compile limit, then again on its own)."""

from __future__ import annotations

import pytest

from codeeval.sandbox.executor import Executor
from codeeval.sandbox.model import Language, Limits, Outcome, RunRequest, RunResult
from codeeval.sandbox.runners.java import COMPILE_GRACE_MS

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.slow]

SOLUTION = "class Solution { public int f() { return 1; } }"
TEST = "public class Main { public static void main(String[] a) { if (new Solution().f() != 1) throw new Error(); } }"
#: 150 KiB, the size the fuzz run sent.
SIZE = 150 << 10


def exponential_inference(depth: int = 24) -> str:
    """A ~600-byte candidate javac takes exponential time on (nested generic calls over conditionals:
    each level multiplies javac's inference work by ~2.5; depth 12 is ~16 s of CPU, 24 never ends)."""
    expr = '"s"'
    for _ in range(depth):
        expr = f"id(b ? {expr} : null)"
    return ("class Solution { static <T> T id(T t) { return t; } static boolean b = true; "
            f"Object v = {expr}; public int f() {{ return 1; }} }}")


async def batch(engine: Executor, reqs: list[RunRequest]) -> list[RunResult]:
    got: dict[int, RunResult] = {}
    async for i, res in engine.execute_batch(reqs):
        got[i] = res
    return [got[i] for i in range(len(reqs))]


def assert_cut_at_the_compile_limit(res: RunResult, wall_ms: int) -> None:
    assert res.outcome is Outcome.COMPILE_ERROR, (res.outcome, res.detail)
    assert res.detail.startswith("javac ran past its ") and "-time limit of " in res.detail, res.detail
    assert f"(limits.wall_time_ms {wall_ms} ms + {COMPILE_GRACE_MS} ms to compile)" in res.detail, res.detail


async def test_tests_of_the_quadratic_shapes_get_their_verdicts(engine: Executor):
    shapes = {"newlines": "\n" * SIZE, "blank lines": " \n" * (SIZE // 2), "public lines": "public\n" * (SIZE // 7),
              "unclosed strings": '"\\' * (SIZE // 2), "package words": "package " * (SIZE // 8)}
    reqs = [RunRequest(Language.JAVA, SOLUTION, text, id=name) for name, text in shapes.items()]
    single = await engine.execute(reqs[0])
    assert single.outcome is Outcome.RUNTIME_ERROR and b"t0.Main" in single.stderr, (single.outcome, single.detail)
    got = await batch(engine, reqs)
    assert [r.outcome for r in got] == [Outcome.RUNTIME_ERROR] * 2 + [Outcome.COMPILE_ERROR] * 3, \
        [(r.id, r.outcome, r.detail) for r in got]
    assert all(r.detail == "javac reported errors" for r in got[2:])


async def test_a_compile_past_its_limit_ends_as_compile_error_naming_the_limit(engine: Executor):
    wall = 1000
    res = await engine.execute(RunRequest(Language.JAVA, exponential_inference(), TEST,
                                          limits=Limits(wall_time_ms=wall)))
    assert_cut_at_the_compile_limit(res, wall)


async def test_a_batch_keeps_its_good_candidates_around_a_compile_past_its_limit(engine: Executor):
    wall = 1000
    good = [SOLUTION, SOLUTION.replace("1; }", "1 + 0; }"), SOLUTION.replace("1;", "2 - 1;")]
    sources = [good[0], exponential_inference(), *good[1:]]
    got = await batch(engine, [RunRequest(Language.JAVA, s, TEST, limits=Limits(wall_time_ms=wall)) for s in sources])
    assert [r.outcome for r in got] == [Outcome.PASSED, Outcome.COMPILE_ERROR, Outcome.PASSED, Outcome.PASSED], \
        [(r.outcome, r.detail) for r in got]
    assert_cut_at_the_compile_limit(got[1], wall)


async def test_a_batch_finds_the_candidate_that_crashes_javac(engine: Executor):
    # javac dies of its parser's stack on deep nesting, naming no file: the batch is halved until the
    # crash is alone, and every other candidate compiles and passes
    crash = "class Solution { int v = " + "(" * 50_000 + "1" + ")" * 50_000 + "; public int f() { return 1; } }"
    good = [SOLUTION.replace("1;", f"{k} - {k - 1};") for k in range(2, 7)]
    sources = [*good[:2], crash, *good[2:]]
    got = await batch(engine, [RunRequest(Language.JAVA, s, TEST) for s in sources])
    assert [r.outcome for r in got] == [Outcome.PASSED] * 2 + [Outcome.COMPILE_ERROR] + [Outcome.PASSED] * 3, \
        [(r.outcome, r.detail) for r in got]
    assert got[2].detail == "javac reported errors" and got[2].exit_code != 0


async def test_a_candidate_of_15000_classes_runs_with_its_class_list_in_a_file(engine: Executor):
    # the judge's list of the candidate's classes (~150 KB here) is past what one argument may hold
    # (128 KiB: it was a SANDBOX_ERROR, retried); it goes in a read-only file beside the classes
    many = SOLUTION + "".join(f"class K{i} {{}}\n" for i in range(15_000))
    res = await engine.execute(RunRequest(Language.JAVA, many, TEST, limits=Limits(wall_time_ms=60_000)))
    assert res.outcome is Outcome.PASSED, (res.outcome, res.detail, res.stderr[-500:])
