"""Modes and languages beyond the HumanEval path: compile-only (Python, Java, C#), C# via mono,
Java JUnit 5 tests, compile-error attribution inside a batch, stdin in run mode."""

from __future__ import annotations

import shutil

import pytest

from codeeval.sandbox.executor import Executor
from codeeval.sandbox.model import Language, Mode, Outcome, RunRequest

pytestmark = pytest.mark.asyncio(loop_scope="session")
needs_mono = pytest.mark.skipif(shutil.which("mcs") is None, reason="mono-mcs not installed")
CS_SOLUTION = "public class Calc { public static int Add(int a, int b) { return a %s b; } }\n"
CS_TEST = ("public static class Tests { public static void Main() { if (Calc.Add(2, 3) != 5) "
           "throw new System.Exception(\"Assert failed: Add(2, 3) != 5\"); } }\n")


async def outcomes(engine: Executor, reqs: list[RunRequest]) -> list[Outcome]:
    got = {}
    async for i, res in engine.execute_batch(reqs):
        got[i] = res
    return [got[i].outcome for i in range(len(reqs))]


async def test_compile_only_python_and_java(engine: Executor):
    reqs = [RunRequest(Language.PYTHON, "def f(:\n", mode=Mode.COMPILE_ONLY),
            RunRequest(Language.PYTHON, "import sys\nsys.exit(3)\n", mode=Mode.COMPILE_ONLY),  # never runs
            RunRequest(Language.JAVA, "public class A { int f() { return 1; } }", mode=Mode.COMPILE_ONLY),
            RunRequest(Language.JAVA, "public class B { int f() { return \"x\"; } }", mode=Mode.COMPILE_ONLY)]
    assert await outcomes(engine, reqs) == [Outcome.COMPILE_ERROR, Outcome.PASSED, Outcome.PASSED,
                                            Outcome.COMPILE_ERROR]


async def test_java_compile_errors_are_attributed_within_a_batch(engine: Executor):
    good = "class Solution { public int f() { return 1; } }"
    test = "public class Main { public static void main(String[] a) { assert new Solution().f() == 1; } }"
    bad_return, bad_syntax = "class Solution { public int f() { return; } }", "class Solution { void f( }"
    reqs = [RunRequest(Language.JAVA, good, test), RunRequest(Language.JAVA, bad_return, test),
            RunRequest(Language.JAVA, good, test), RunRequest(Language.JAVA, bad_syntax, test)]
    results = {}
    async for i, res in engine.execute_batch(reqs):
        results[i] = res
    assert [results[i].outcome for i in range(4)] == [Outcome.PASSED, Outcome.COMPILE_ERROR, Outcome.PASSED,
                                                      Outcome.COMPILE_ERROR]
    assert "missing return value" in results[1].compile_output and "Solution.java:1" in results[1].compile_output
    assert "missing return value" not in results[3].compile_output


async def test_java_asserts_are_enabled_and_junit5_runs(engine: Executor):
    sol = "class Solution { public int f() { return 2; } }"
    plain = "public class Main { public static void main(String[] a) { assert new Solution().f() == 1; } }"
    junit = ("import org.junit.jupiter.api.Test;\nimport static org.junit.jupiter.api.Assertions.assertEquals;\n"
             "public class SolutionTest {\n  @Test void two() { assertEquals(2, new Solution().f()); }\n"
             "  @Test void one() { assertEquals(%d, new Solution().f()); }\n}\n")
    reqs = [RunRequest(Language.JAVA, sol, plain), RunRequest(Language.JAVA, sol, junit % 2),
            RunRequest(Language.JAVA, sol, junit % 1)]
    assert await outcomes(engine, reqs) == [Outcome.FAILED, Outcome.PASSED, Outcome.FAILED]


async def test_run_mode_reads_stdin(engine: Executor):
    res = await engine.execute(RunRequest(Language.PYTHON, "print(int(input()) * 2)\n", mode=Mode.RUN, stdin=b"21\n"))
    assert (res.outcome, res.stdout) == (Outcome.PASSED, b"42\n")


@needs_mono
async def test_csharp_compile_and_run(engine: Executor):
    reqs = [RunRequest(Language.CSHARP, CS_SOLUTION % "+", CS_TEST, entry_point="Tests"),
            RunRequest(Language.CSHARP, CS_SOLUTION % "-", CS_TEST, entry_point="Tests"),
            RunRequest(Language.CSHARP, "public class Calc { public static int Add(int a, int b) { return a + ; } }",
                       CS_TEST, entry_point="Tests"),
            RunRequest(Language.CSHARP, "public record P(int X);", mode=Mode.COMPILE_ONLY),  # C# 9: beyond mcs
            RunRequest(Language.CSHARP, CS_SOLUTION % "+", mode=Mode.COMPILE_ONLY),
            RunRequest(Language.CSHARP, "public class Calc { static Calc() { System.Environment.Exit(0); }"
                       " public static int Add(int a, int b) { return 0; } }", CS_TEST, entry_point="Tests"),
            RunRequest(Language.CSHARP, "class P { static void Main() { System.Console.WriteLine(\"hi \" + "
                       "System.Console.ReadLine()); } }", mode=Mode.RUN, stdin=b"there\n")]
    assert await outcomes(engine, reqs) == [Outcome.PASSED, Outcome.RUNTIME_ERROR, Outcome.COMPILE_ERROR,
                                            Outcome.COMPILE_ERROR, Outcome.PASSED, Outcome.RUNTIME_ERROR,
                                            Outcome.PASSED]
