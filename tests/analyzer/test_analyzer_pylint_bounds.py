"""Issue 18, adversarial Python: CPython's compiler refuses deep nesting with a parse error (never an
exception), and pylint, whose astroid inference is exponential on some short files, runs in a worker
process with a budget per file: such a file ends as its own pylint tool error, the worker is
replaced, and the other files of the batch get exactly their in-process findings. Results and
reasons are asserted, never times (the budgets only bound how long a test may take)."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from codeeval.analyzer import parsing, pylint_runner, pylint_worker
from codeeval.analyzer.analysis import Analyzer, Limits, RawFile
from codeeval.analyzer.pmd import Pmd

from .conftest import inputs

GOOD = "import os\n\n\ndef f(x):\n    return x\n"


def inference_bomb(n: int = 60) -> str:
    """``x{i+1} = x{i} + x{i}`` n times, then an attribute of the last: astroid's inference doubles
    per line (22 lines: 26 s; 60 lines, 957 bytes: not done after 90 s)."""
    return "x0 = [1]\n" + "".join(f"x{i + 1} = x{i} + x{i}\n" for i in range(n)) + f"print(x{n}.count)\n"


@pytest.mark.parametrize("text", [
    "a = 1\nb = " + "+".join(["a"] * 5000) + "\n",
    "x = 1\nif x == 0:\n    y = 0\n" + "".join(f"elif x == {i}:\n    y = {i}\n" for i in range(1, 3000)),
    "x = " + " + ".join(["'a'"] * 3000) + "\n",
    "x = " + "(" * 20000 + "1" + ")" * 20000 + "\n",
    "x = " + "[" * 20000 + "]" * 20000 + "\n",
    "".join(" " * i + "if x:\n" for i in range(120)) + " " * 120 + "pass\n",
    "x = " + "9" * 200_000 + "\n",
    "x = 1\x00\n",
])
def test_python_the_compiler_refuses_is_a_parse_error_never_an_exception(text: str) -> None:
    prepared = parsing.prepare("python", text)
    assert prepared.parse_error and not prepared.wrapped


def test_an_inference_bomb_is_that_files_pylint_error_and_the_rest_keep_their_findings(tmp_path: Path) -> None:
    paths = []
    for i, text in enumerate([GOOD, inference_bomb(), GOOD.replace("f(", "g("), GOOD]):
        path = tmp_path.resolve() / f"sample_{i:05d}.py"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    alone = pylint_runner.run_pylint([paths[0], paths[2], paths[3]])
    worker = pylint_worker.Worker()
    try:
        got = worker.run(paths, budget_seconds=5.0)  # a good file takes ~0.1 s, or seconds under load
        assert got.errors == {str(paths[1]): "pylint gave up after 5 s on this file"}
        for p in (paths[0], paths[2], paths[3]):
            assert got.findings[str(p)] == alone.findings[str(p)] and got.findings[str(p)]
        # the worker was replaced: the next batch is served, with the same findings
        again = worker.run([paths[0]], budget_seconds=30.0)
        assert again.findings[str(paths[0])] == alone.findings[str(paths[0])] and not again.errors
    finally:
        worker.close()


def test_a_dead_worker_is_that_files_error_and_the_deadline_bounds_the_batch(tmp_path: Path) -> None:
    bomb, good = tmp_path.resolve() / "sample_00000.py", tmp_path.resolve() / "sample_00001.py"
    bomb.write_text(inference_bomb(), encoding="utf-8")
    good.write_text(GOOD, encoding="utf-8")
    worker = pylint_worker.Worker()
    try:
        worker.start()
        pid = worker._proc.pid  # noqa: SLF001 - killed from outside, as a crash in C would end it
        killer = threading.Timer(1.0, os.kill, (pid, signal.SIGKILL))
        killer.start()
        got = worker.run([bomb, good], budget_seconds=60.0)
        killer.join()
        assert got.errors == {str(bomb): pylint_worker.CRASHED.format(code=-signal.SIGKILL)}
        assert got.findings[str(good)]
        assert worker._proc.pid != pid  # noqa: SLF001
        got = worker.run([bomb, good], budget_seconds=60.0, deadline=time.monotonic() + 1.0)
        assert got.errors[str(good)] == pylint_worker.NOT_RUN
        assert got.errors[str(bomb)].startswith("pylint gave up after ")
    finally:
        worker.close()


def test_analyze_keeps_a_pylint_timeout_to_that_file(pmd: Pmd) -> None:
    tool = Analyzer(pmd, Limits(pylint_timeout_seconds=5.0))
    files = inputs(RawFile("bomb.py", inference_bomb().encode()), RawFile("good.py", GOOD.encode()))
    alone = tool.analyze(inputs(RawFile("good.py", GOOD.encode())), [])
    result = tool.analyze(files, [])
    bomb, good = result.files
    assert not bomb.analyzable and bomb.tool_errors == [("pylint", "pylint gave up after 5 s on this file")]
    assert good.analyzable and good.findings == alone.files[0].findings and good.findings
