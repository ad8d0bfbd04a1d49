"""The throughput bench's floor runners (bench/sandbox/humaneval_throughput.py --floor) judge for
real: a right program passes, a wrong one, one that raises and one that never answers do not, so
the floor's programs/s are those of runs that did the work."""

from __future__ import annotations

import ast
import importlib.util
import os
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "sandbox" / "humaneval_throughput.py"
TEST = "def check(candidate):\n    assert candidate([1, 2]) == [2, 1]\n    assert candidate([]) == []\n"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("humaneval_throughput", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def _programs() -> list[dict[str, str]]:
    bodies = {"right": "    return list(reversed(xs))\n", "wrong": "    return xs\n",
              "raises": "    raise ValueError('no')\n", "hangs": "    while True:\n        pass\n"}
    return [{"source": f"def rev(xs):\n{body}", "test": TEST, "entry_point": "rev", "text": name}
            for name, body in bodies.items()]


def _run(bench, isolated: bool) -> tuple[int, dict[str, float]]:
    # forks: run in a child so that the test process keeps its own namespaces whatever happens
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        code = 1
        try:
            passed, roles = bench.floor(_programs(), 2, 1.0, isolated=isolated)
            os.write(w, repr((passed, roles)).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    with os.fdopen(r, "rb") as fh:
        out = fh.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, out
    return ast.literal_eval(out.decode())


def test_the_split_floor_passes_only_the_right_program(bench):
    passed, roles = _run(bench, isolated=False)
    assert passed == 1
    assert roles["judges"] > 0 and roles["candidates"] > 0 and roles["candidates faults"] > 0


@pytest.mark.skipif(os.geteuid() != 0, reason="split-ns makes namespaces and mounts: root only")
def test_the_namespaced_floor_passes_only_the_right_program(bench):
    passed, roles = _run(bench, isolated=True)
    assert passed == 1
    assert roles["candidates"] > 0
