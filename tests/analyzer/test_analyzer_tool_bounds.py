"""Issue 18, never a hang: the third-party tools that are superlinear on adversarial text (tree-sitter's
error recovery, lizard's tokenizer regexes) run under a budget. The largest accepted file of each
shape (minutes to hours unbounded) ends as that file's clear result, the parser and the metrics
worker keep serving afterwards, and the other files of the same Analyze call get exactly the results
they get alone. Results and reasons are asserted, never times. C# only at the Analyze level (no PMD
or pylint to wait for)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import grpc
import pytest

from codeeval.analyzer import metrics, parsing
from codeeval.analyzer.analysis import Analyzer, Limits, RawFile
from codeeval.analyzer.pmd import Pmd
from codeeval.analyzer.settings import AnalyzerSettings

from .conftest import FIXTURES, inputs

#: The largest file a request may carry.
SIZE = Limits().max_file_bytes
#: tree-sitter's error recovery on these ran ~x4 per doubling (C# ``/* `` 52 s at 20 KB): hours at SIZE.
PARSE_SHAPES = [("csharp", "/* "), ("java", '@"'), ("java", "/* ")]
CLEAN_CS = "class A {\n    int F(int x) { return x + 1; }\n}\n"


def lizard_bomb(size: int = SIZE) -> str:
    """A C# file that parses cleanly but on which lizard is quadratic: its generics look-ahead runs
    from the ``<`` over a string literal of ``?`` (~0.07 s at 8 KiB, over a minute at 256 KiB)."""
    head = "class B {\n    bool Less(int x, int y) { return x < y; }\n    string s = \""
    tail = "\";\n}\n"
    return head + "?" * (size - len(head) - len(tail)) + tail


def real_csharp(min_chars: int) -> str:
    """Real-looking C# over ``min_chars``: the fixture method repeated in one class, renamed."""
    method = (FIXTURES / "csharp" / "method_only.cs").read_text(encoding="utf-8")
    body, i = [], 0
    while sum(map(len, body)) < min_chars:
        body.append(method.replace("(", f"{i}(", 1))
        i += 1
    return "public class Many {\n" + "\n".join(body) + "}\n"


@pytest.fixture()
def analyzer_small_budgets() -> Iterator[Analyzer]:
    settings = AnalyzerSettings.load()
    tool = Analyzer(Pmd(settings.pmd_home, settings.java_home), Limits(parse_timeout_ms=500, metrics_timeout_seconds=3))
    yield tool
    tool.close()


@pytest.mark.parametrize(("language", "shape"), PARSE_SHAPES)
def test_an_adversarial_parse_gives_up_as_that_files_parse_error(language: str, shape: str) -> None:
    broken = "class A { int F( }"
    before = parsing.tree_sitter_error("csharp", broken)
    prepared = parsing.prepare(language, shape * (SIZE // len(shape)), budget_ms=100)
    assert prepared.parse_error == "parse check: tree-sitter gave up after 100 ms on this file"
    with pytest.raises(parsing.ParseTimeout, match="gave up after 100 ms"):
        parsing.tree_sitter_error(language, shape * (SIZE // len(shape)), budget_ms=100)
    # the parser is reset: the next parse starts afresh rather than resuming the abandoned one
    assert parsing.prepare("csharp", CLEAN_CS) == parsing.Prepared(CLEAN_CS, False, "")
    assert parsing.tree_sitter_error("csharp", broken) == before and before.startswith("syntax error at line 1")


def test_a_parse_budget_must_be_positive() -> None:
    with pytest.raises(ValueError, match="budget_ms must be positive"):
        parsing.parse("java", "class A {}", 0)


def test_large_files_are_measured_in_the_worker_exactly_as_in_process() -> None:
    text = real_csharp(3 * metrics.INLINE_CHARS)
    bounded = metrics.measure_bounded("csharp", text)
    assert bounded == metrics.measure("csharp", text) and len(bounded.functions) > 20
    # a lizard error in the worker comes back as the same exception (here: a negative NLOC, lizard 1.24)
    fstring = ('def render(name):\n\tcode = f"""\n\tclass {name}:\n\t\tdef get(self, field):\n'
               '\t\t\treturn {name}[\'{field}\']\n\t"""\n\treturn code\n')
    padded = "#" * (metrics.INLINE_CHARS + 1) + "\n" + fstring
    with pytest.raises(ValueError, match="negative"):
        metrics.measure_bounded("python", padded)


def test_lizard_on_an_adversarial_file_gives_up_and_the_worker_is_replaced() -> None:
    metrics.start()
    descriptors = len(os.listdir("/proc/self/fd"))
    with pytest.raises(metrics.MetricsTimeout, match=r"metrics unavailable: lizard gave up after 1 s on this file"):
        metrics.measure_bounded("csharp", lizard_bomb(), 1.0)
    assert len(os.listdir("/proc/self/fd")) == descriptors  # the killed worker's pipes are closed, a new one's open
    text = real_csharp(2 * metrics.INLINE_CHARS)
    assert metrics.measure_bounded("csharp", text) == metrics.measure("csharp", text)


def test_adversarial_files_end_as_their_own_results_and_the_others_are_unaffected(
        analyzer_small_budgets: Analyzer) -> None:
    others = [RawFile("a.cs", CLEAN_CS.encode()), RawFile("many.cs", real_csharp(2 * metrics.INLINE_CHARS).encode()),
              RawFile("broken.cs", (FIXTURES / "csharp" / "broken.cs").read_bytes()),
              RawFile("method_only.cs", (FIXTURES / "csharp" / "method_only.cs").read_bytes())]
    bombs = [RawFile("lizard_bomb.cs", lizard_bomb().encode()),
             RawFile("parse_bomb.cs", ("/* " * (SIZE // 3)).encode())]
    alone = analyzer_small_budgets.analyze(inputs(*others), [])
    mixed = analyzer_small_budgets.analyze(inputs(others[0], *bombs, *others[1:]), [])
    by_path = {r.path: r for r in mixed.files}
    lizard_file, parse_file = by_path.pop("lizard_bomb.cs"), by_path.pop("parse_bomb.cs")
    assert lizard_file.analyzable and not lizard_file.parse_error
    assert lizard_file.tool_errors == [("lizard", "metrics unavailable: lizard gave up after 3 s on this file")]
    assert lizard_file.metrics.functions == [] and lizard_file.metrics.nloc == 0
    assert not parse_file.analyzable and not parse_file.tool_errors
    assert parse_file.parse_error == "parse check: tree-sitter gave up after 500 ms on this file"
    assert list(by_path.values()) == alone.files
    assert alone.files[1].metrics.functions and all(not r.tool_errors for r in alone.files)
    summary = mixed.summary_all["csharp"]
    assert (summary.files, summary.analyzable_files) == (6, alone.summary_all["csharp"].analyzable_files + 1)


def test_the_calls_deadline_cuts_both_budgets(analyzer_small_budgets: Analyzer) -> None:
    bombs = inputs(RawFile("lizard_bomb.cs", lizard_bomb().encode()),
                   RawFile("parse_bomb.cs", ("/* " * (SIZE // 3)).encode()))
    lizard_file, parse_file = analyzer_small_budgets.analyze(bombs, [], deadline=time.monotonic()).files
    assert lizard_file.tool_errors == [("lizard", "metrics unavailable: lizard gave up after 1 s on this file")]
    assert parse_file.parse_error == "parse check: tree-sitter gave up after 50 ms on this file"



@pytest.mark.slow
@pytest.mark.integration
async def test_over_grpc_the_bombs_are_per_file_results_with_the_services_budgets() -> None:
    from codeeval.analyzer import server
    from codeeval.api.analyzer.v1 import analyzer_pb2, analyzer_pb2_grpc
    from codeeval.api.common.v1 import common_pb2
    from codeeval.kit.server import Runner

    settings = AnalyzerSettings.load(parse_timeout_ms=300, metrics_timeout_seconds=2)
    runner = Runner(server.create(settings), settings)
    await runner.start()
    try:
        await runner.wait_ready(300)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{runner.port}") as channel:
            files = {"a.cs": CLEAN_CS, "lizard_bomb.cs": lizard_bomb(), "parse_bomb.cs": "/* " * (SIZE // 3),
                     "java_bomb.java": '@"' * (SIZE // 2)}
            resp = await analyzer_pb2_grpc.AnalyzerServiceStub(channel).Analyze(analyzer_pb2.AnalyzeRequest(files=[
                analyzer_pb2.AnalyzedFile(file=common_pb2.SourceFile(path=p, content=t.encode()))
                for p, t in files.items()]), timeout=600)
    finally:
        await runner.shutdown(grace=1)
    by_path = {f.path: f for f in resp.files}
    assert by_path["a.cs"].analyzable and by_path["a.cs"].metrics.functions[0].name == "A::F"
    assert [(e.tool, e.message) for e in by_path["lizard_bomb.cs"].tool_errors] == [
        ("lizard", "metrics unavailable: lizard gave up after 2 s on this file")]
    for path in ("parse_bomb.cs", "java_bomb.java"):
        assert not by_path[path].analyzable
        assert by_path[path].parse_error == "parse check: tree-sitter gave up after 300 ms on this file"
    assert resp.summary_all["csharp"].analyzable_files == 2 and resp.summary_all["java"].analyzable_rate == 0.0
