"""Reward hacking against the Java and C# judges: every case in fixtures/reward_hacking/<language>/
answers wrongly and tries to forge a pass; each must end in its expected failure outcome, on every
backend available (bubblewrap, unshare, docker with its marker). Also: the own HumanEval-X-shaped
Java tasks (every import form and JDK type such tests use) pass with their reference solutions and
fail with their broken ones, the memory cases end as MEMORY_EXCEEDED with cgroups off (as in pods),
and the source rewriting that keeps candidate types out of the test's namespace (unit tests)."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from conftest import CONFORMANCE_LIMITS, FIXTURES, bwrap_usable, expected_outcomes, settings

from codeeval.sandbox.executor import Executor
from codeeval.sandbox.model import Language, Limits, RunRequest, RunResult
from codeeval.sandbox.runners import csharp_source, java, java_source
from codeeval.sandbox.runners.java_source import JavaIndex

ASYNC = pytest.mark.asyncio(loop_scope="session")
CASES = FIXTURES / "reward_hacking"
TASK = json.loads((FIXTURES / "humaneval_x_java.jsonl").read_text().splitlines()[0])  # Java/0: add(x, y)
CORRECT_JAVA = TASK["prompt"] + TASK["canonical_solution"]
JUNIT_TEST = ("import org.junit.jupiter.api.Test;\nimport static org.junit.jupiter.api.Assertions.assertEquals;\n"
              "public class SolutionTest {\n  @Test void adds() { assertEquals(5, new Solution().add(2, 3)); }\n}\n")
LIST_TEST = ("public class Main {\n    public static void main(String[] args) {\n        Solution s = new Solution();\n"
             "        List<Boolean> correct = Arrays.asList(\n"
             "                s.sorted(Arrays.asList(3, 1, 2)).equals(Arrays.asList(1, 2, 3))\n        );\n"
             "        if (correct.contains(false)) {\n            throw new AssertionError();\n        }\n    }\n}\n")
#: Limits of these runs: a JVM start under a loaded machine, memory as in the conformance suite.
LIMITS = Limits(wall_time_ms=20_000, cpu_time_ms=20_000, memory_bytes=CONFORMANCE_LIMITS.memory_bytes,
                output_bytes=64 << 10, max_processes=64, max_file_bytes=8 << 20)
#: Words a case prints only when its attack worked.
SUCCESS_WORDS = (b"OVERWROTE", b"FOUND", b"GOT ")
_results: dict[tuple[str, str], dict[str, RunResult]] = {}


def cases(language: str) -> list[Path]:
    suffix = {"java": ".java", "csharp": ".cs"}[language]
    return sorted((CASES / language).glob(f"*{suffix}"))


CS_TEST = (CASES / "csharp" / "Tests.cs.txt").read_text()
CORRECT_CS = "public class Calc { public static int Add(int a, int b) { return a + b; } }\n"
needs_mono = pytest.mark.skipif(shutil.which("mcs") is None, reason="mono-mcs not installed")


def csharp_request(path: Path) -> RunRequest:
    text = path.read_text()
    entry = "Tests"
    for line in text.splitlines():
        if line.startswith("// entry:"):
            entry = line.split(":", 1)[1].strip()
    return RunRequest(Language.CSHARP, text, CS_TEST, entry_point=entry, limits=LIMITS, id=path.stem)


def java_request(path: Path) -> RunRequest:
    text = path.read_text()
    test = JUNIT_TEST if "// test: junit" in text else LIST_TEST if "// test: list" in text else TASK["test"]
    return RunRequest(Language.JAVA, text, test, limits=LIMITS, id=path.stem)


async def batch(engine: Executor, reqs: list[RunRequest]) -> list[RunResult]:
    got = {i: res async for i, res in engine.execute_batch(reqs)}
    return [got[i] for i in range(len(reqs))]


async def java_results(engine: Executor) -> dict[str, RunResult]:
    """All Java cases as one batch (so each runs beside other samples), after a correct control."""
    key = (engine.backend.name, "java")
    if key not in _results:
        files = cases("java")
        reqs = [RunRequest(Language.JAVA, CORRECT_JAVA, TASK["test"], limits=LIMITS, id="correct"),
                *(java_request(p) for p in files)]
        results = await batch(engine, reqs)
        _results[key] = {r.id: res for r, res in zip(reqs, results, strict=True)}
    return _results[key]


@pytest.fixture(scope="session", params=["bubblewrap", "unshare", pytest.param("docker", marks=pytest.mark.docker)])
def backend_engine(request: pytest.FixtureRequest) -> Executor:
    name = {"bubblewrap": "engine", "unshare": "unshare_engine", "docker": "docker_engine"}[request.param]
    return request.getfixturevalue(name)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def no_cgroups_engine() -> AsyncIterator[Executor]:
    """bubblewrap with cgroups off: memory is bounded only by the runtimes' flags and rlimits."""
    if not bwrap_usable():
        pytest.skip("bubblewrap not installed")
    eng = Executor(settings(cgroups=False))
    await eng.start()
    yield eng
    await eng.stop()


def _assert_case(path: Path, res: RunResult) -> None:
    want = expected_outcomes(path)
    assert res.outcome.name in want, (f"{path.name}: {res.outcome.name} ({res.detail}) not in {want}; "
                                      f"stdout={res.stdout[-800:]!r} stderr={res.stderr[-1500:]!r} "
                                      f"{res.compile_output[-1500:]}")
    for word in SUCCESS_WORDS:
        assert word not in res.stdout, f"{path.name}: the attack reported success: {res.stdout[-800:]!r}"


@ASYNC
@pytest.mark.slow
@pytest.mark.parametrize("path", cases("java"), ids=lambda p: p.stem)
async def test_java_reward_hacking_fails(backend_engine: Executor, path: Path):
    results = await java_results(backend_engine)
    assert results["correct"].outcome.name == "PASSED", (results["correct"].compile_output, results["correct"].stderr)
    assert b"WARNING" not in results["correct"].stderr  # the JDK's Security Manager notice is not the run's
    _assert_case(path, results[path.stem])


@ASYNC
@pytest.mark.slow
async def test_java_memory_bounded_without_cgroups(no_cgroups_engine: Executor):
    """A direct-buffer flood is MEMORY_EXCEEDED and Unsafe is not even there, with no cgroup."""
    paths = [CASES / "java" / "DirectBufferOverLimit.java", CASES / "java" / "UnsafeReflective.java",
             CASES / "java" / "UnsafeDirect.java"]
    for path, res in zip(paths, await batch(no_cgroups_engine, [java_request(p) for p in paths]), strict=True):
        _assert_case(path, res)
    assert b"sun.misc.Unsafe" in (await batch(no_cgroups_engine, [java_request(paths[1])]))[0].stderr


async def csharp_results(engine: Executor) -> dict[str, RunResult]:
    key = (engine.backend.name, "csharp")
    if key not in _results:
        reqs = [RunRequest(Language.CSHARP, CORRECT_CS, CS_TEST, entry_point="Tests", limits=LIMITS, id="correct"),
                *(csharp_request(p) for p in cases("csharp"))]
        results = await batch(engine, reqs)
        _results[key] = {r.id: res for r, res in zip(reqs, results, strict=True)}
    return _results[key]


@ASYNC
@pytest.mark.slow
@needs_mono
@pytest.mark.parametrize("path", cases("csharp"), ids=lambda p: p.stem)
async def test_csharp_reward_hacking_fails(backend_engine: Executor, path: Path):
    if backend_engine.backend.name == "unshare":
        pytest.skip("mono needs /proc, which the unshare backend's jail does not mount")
    results = await csharp_results(backend_engine)
    assert results["correct"].outcome.name == "PASSED", (results["correct"].compile_output, results["correct"].stderr)
    _assert_case(path, results[path.stem])


@ASYNC
@pytest.mark.slow
@needs_mono
async def test_csharp_memory_bounded_without_cgroups(no_cgroups_engine: Executor):
    path = CASES / "csharp" / "MemoryBomb.cs"
    [res] = await batch(no_cgroups_engine, [csharp_request(path)])
    _assert_case(path, res)


ORDINARY_CS = """using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using System.Security.Cryptography;

class Calc
{
    static readonly int[] Primes = { 2, 3, 5, 7, 11 };
    static IEnumerable<int> Evens(int n) { for (int i = 0; i < n; i += 2) yield return i; }

    public static int Add(int a, int b)
    {
        var d = new Dictionary<string, int> { ["x"] = a };
        var pair = Tuple.Create(b, $"{a}+{b}");
        var sb = new StringBuilder();
        foreach (int p in Primes.Where(p => p > 2).OrderByDescending(p => p)) sb.Append(p).Append(',');
        string md5 = BitConverter.ToString(MD5.Create().ComputeHash(Encoding.UTF8.GetBytes(sb.ToString())));
        bool ok = Regex.IsMatch(pair.Item2, @"^-?\\d+\\+-?\\d+$") && md5.Length > 0 && Evens(6).Sum() == 6;
        Func<int, int, int> add = (x, y) => x + y;
        Array.Sort(Primes);
        return ok && typeof(Calc).Name == "Calc" ? add(d["x"], pair.Item1) : -1;
    }
}
"""


@ASYNC
@pytest.mark.slow
@needs_mono
async def test_csharp_ordinary_code_is_not_refused(engine: Executor):
    """LINQ, iterators, Tuple, interpolation, MD5, Regex, typeof: none is refused by the IL check."""
    [res] = await batch(engine, [RunRequest(Language.CSHARP, ORDINARY_CS, CS_TEST, entry_point="Tests", limits=LIMITS)])
    assert res.outcome.name == "PASSED", (res.detail, res.compile_output, res.stderr[-2000:])


def _humaneval_x(name: str, samples: str | None) -> list[RunRequest]:
    tasks = {t["task_id"]: t for t in map(json.loads, (FIXTURES / name).read_text().splitlines()) if t}
    if samples is None:
        return [RunRequest(Language.JAVA, t["prompt"] + t["canonical_solution"], t["test"], limits=LIMITS, id=k)
                for k, t in tasks.items()]
    rows = [json.loads(line) for line in (FIXTURES / samples).read_text().splitlines() if line.strip()]
    return [RunRequest(Language.JAVA, tasks[r["task_id"]]["prompt"] + r["completion"], tasks[r["task_id"]]["test"],
                       limits=LIMITS, id=r["task_id"]) for r in rows]


@ASYNC
@pytest.mark.slow
@pytest.mark.parametrize("name", ["humaneval_x_java", "humaneval_x_java_imports"])
async def test_humaneval_x_java_references_pass_and_broken_fail(backend_engine: Executor, name: str):
    good = _humaneval_x(f"{name}.jsonl", None)
    bad = _humaneval_x(f"{name}.jsonl", f"{name}_broken.jsonl")
    results = await batch(backend_engine, good + bad)
    for req, res in zip(good, results[:len(good)], strict=True):
        assert res.outcome.name == "PASSED", f"{req.id}: {res.outcome.name} {res.detail} {res.compile_output} " \
                                             f"{res.stderr[-2000:]!r}"
    for req, res in zip(bad, results[len(good):], strict=True):
        assert res.outcome.name in {"FAILED", "RUNTIME_ERROR", "COMPILE_ERROR"}, f"{req.id}: {res.outcome.name}"
    assert len(bad) == len(good)


def test_csharp_test_asserts_become_the_judges_and_namespaces_separate():
    test = ('using System.Diagnostics;\nclass Tests { static void Main() {\n  Debug.Assert(Calc.Add(1, 1) == 2);\n'
            '  System.Diagnostics.Trace.Assert(true, "Debug.Assert( in a string");\n  Debug.Fail("x");\n} }\n')
    out = csharp_source.test_text(test)
    assert out.count("global::CodeevalJudge.Check.Assert(") == 2 and "global::CodeevalJudge.Check.Fail(" in out
    assert '"Debug.Assert( in a string"' in out and out.count("\n") == test.count("\n") + 2
    assert out.startswith("namespace CodeevalTests { using CodeevalCandidate; ")
    assert csharp_source.candidate_text("class A { }").startswith("namespace CodeevalCandidate { class A { }")
    assert csharp_source.entry_type("Tests") == "CodeevalTests.Tests" and csharp_source.entry_type("") == ""


# Unit tests of the source rewriting (no JVM): a tiny index stands in for the JDK's.
INDEX = JavaIndex(
    public={"java.lang": frozenset({"String", "Integer", "Math", "Object", "AssertionError"}),
            "java.util": frozenset({"Arrays", "List", "ArrayList", "Map"}),
            "java.util.stream": frozenset({"Collectors", "Stream"})},
    names={"java.lang": frozenset({"String", "Integer", "Math", "Object", "AssertionError"}),
           "java.util": frozenset({"Arrays", "List", "ArrayList", "Map"}),
           "java.util.stream": frozenset({"Collectors", "Stream"}),
           "org.junit.jupiter.api": frozenset({"Test", "Assertions"})})
HX_TEST = ("public class Main {\n  public static void main(String[] a) {\n    Solution s = new Solution();\n"
           "    List<Boolean> c = Arrays.asList(s.add(2, 3) == 5);\n"
           "    if (c.contains(false)) { throw new AssertionError(); }\n  }\n}\n")


def test_candidate_types_never_hide_the_tests_imports():
    cand = ("import java.util.*;\nclass Arrays { }\nclass Math { }\nclass Solution { public int add(int x, int y) "
            "{ return x - y; } }\n")
    units = java_source.rewrite(cand, HX_TEST, "c0", "t0", INDEX)
    first = units.test.splitlines()[0]
    assert units.exposed == ("Solution",)
    assert "import java.util.Arrays;" in first and "import java.util.List;" in first
    assert "import c0.Solution;" in first and "c0.Arrays" not in first and "c0.Math" not in first
    assert "import java.util.*" not in units.test
    assert units.candidate.startswith("package c0; ") and "public class Solution" in units.candidate
    assert units.candidate_file == "Solution.java"


def test_rewriting_keeps_line_numbers_and_other_imports():
    test = ("import java.util.*;\nimport org.junit.jupiter.api.*;\nimport static org.junit.jupiter.api.Assertions.*;\n"
            "// Arrays in a comment, \"Map\" in a string\npublic class T { @Test void t() { List<Integer> x; } }\n")
    cand = "class Test { }\nclass Assertions { }\npublic class Solution { }\n"
    units = java_source.rewrite(cand, test, "c3", "t3", INDEX)
    assert len(units.test.splitlines()) == len(test.splitlines())
    first = units.test.splitlines()[0]
    assert "import org.junit.jupiter.api.*;" in first and "import static org.junit.jupiter.api.Assertions.*;" in first
    assert "import java.util.List;" in first and "java.util.Arrays" not in first and "java.util.Map" not in first
    assert units.exposed == ()  # Test and Assertions come from JUnit, Solution is not named
    assert units.candidate_file == "Solution.java"


def test_candidate_package_clause_is_replaced_in_place():
    cand = "package evil.t0;\nimport java.util.List;\nclass Solution { }\n"
    units = java_source.rewrite(cand, "public class Main { Solution s; List<String> l; }", "c1", "t1", INDEX)
    assert units.candidate.startswith("package c1; ") and "evil" not in units.candidate
    assert units.candidate.count("\n") == cand.count("\n")
    assert "import java.util.List;" in units.test.splitlines()[0]



def test_jvm_memory_flags_follow_the_runs_limit():
    assert java.memory_flags(384 << 20) == ["-Xms32m", "-Xmx192m", "-XX:MaxDirectMemorySize=24m"]
    assert java.memory_flags(16 << 20) == ["-Xms32m", "-Xmx32m", "-XX:MaxDirectMemorySize=8m"]


def test_index_keeps_public_jdk_types_apart_from_junit_names():
    idx = java.build_index(["java.util.List", "java.util.Arrays", "java.lang.String"],
                           {"org.junit.jupiter.api": {"Test"}, "java.util": {"Internal"}})
    assert idx.public["java.util"] == {"List", "Arrays"} and "Internal" not in idx.public["java.util"]
    assert "Internal" in idx.names["java.util"] and idx.names["org.junit.jupiter.api"] == {"Test"}


@pytest.mark.skipif(not Path(java.JUNIT_JAR).exists(), reason="junit5 not installed")
def test_junit_names_follow_the_class_path_manifest():
    names = java.junit_type_names()  # the console jar is a manifest that lists the real jars
    assert {"Test", "Assertions"} <= names["org.junit.jupiter.api"]


def test_security_manager_notice_is_stripped_once():
    notice = (b"WARNING: A terminally deprecated method in java.lang.System has been called\n"
              b"WARNING: System::setSecurityManager has been called by codeeval.judge.JudgePolicy (file:/l/judge.jar)\n"
              b"WARNING: Please consider reporting this to the maintainers of codeeval.judge.JudgePolicy\n"
              b"WARNING: System::setSecurityManager will be removed in a future release\n")
    assert java._SM_BANNER.sub(b"", notice + b"\x1eSTART\nWARNING: mine\n", count=1) == b"\x1eSTART\nWARNING: mine\n"
