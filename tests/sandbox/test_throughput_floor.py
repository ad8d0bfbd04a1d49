"""The throughput bench's runners (bench/sandbox/humaneval_throughput.py, each in its own fresh
``python3 -I`` as the bench runs them) judge for real: a right program passes, a wrong one, one that
raises and one that never answers do not, so each runner's programs/s are those of runs that did
the work. The floors (``--floor``) also report their CPU and faults by role."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "sandbox" / "humaneval_throughput.py"
PYTHON = "/usr/bin/python3"  # the bench's BASELINE_PYTHON
TEST = "def check(candidate):\n    assert candidate([1, 2]) == [2, 1]\n    assert candidate([]) == []\n"
BODIES = {"right": "    return list(reversed(xs))\n", "wrong": "    return xs\n",
          "raises": "    raise ValueError('no')\n", "hangs": "    while True:\n        pass\n"}


def _baseline(kind: str, tmp_path: Path) -> dict:
    programs = []
    for body in BODIES.values():
        source = f"def rev(xs):\n{body}"
        programs.append({"source": source, "test": TEST, "entry_point": "rev",
                         "text": f"{source}\n{TEST}\ncheck(rev)\n"})
    path = tmp_path / "programs.json"
    path.write_text(json.dumps(programs))
    out = subprocess.run([PYTHON, "-I", str(BENCH), "--baseline", kind, str(path), "2", "1.0"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("kind", ["lean", "split"])
def test_a_runner_passes_only_the_right_program(kind: str, tmp_path: Path) -> None:
    report = _baseline(kind, tmp_path)
    assert report["passed"] == 1, report
    if kind == "split":
        roles = report["cpu_s"]
        assert roles["judges"] > 0 and roles["candidates"] > 0 and roles["candidates faults"] > 0, roles


@pytest.mark.skipif(os.geteuid() != 0, reason="split-ns makes namespaces and mounts: root only")
def test_the_namespaced_floor_passes_only_the_right_program(tmp_path: Path) -> None:
    report = _baseline("split-ns", tmp_path)
    assert report["passed"] == 1, report
    assert report["cpu_s"]["candidates"] > 0
