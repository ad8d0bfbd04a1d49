"""The sandbox load's programs: benign (HumanEval-like tasks, each with a correct and a wrong
solution), hostile (fork bomb, memory hog, sleep past the timeout, file flood, endless output) and
forging (the sandbox's reward-hacking conformance fixtures), each with the outcomes it may end in.

A correct benign program must PASS; every other program must not, and none may be SANDBOX_ERROR
(the sandbox breaking is never an acceptable answer to a hostile program). Every program text is
made unique per run (:func:`unique`), so the service's de-duplication of identical programs in one
batch never turns a run into a copy.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from codeeval.api.common.v1 import common_pb2
from codeeval.api.sandbox.v1 import sandbox_pb2

#: Where the sandbox's reward-hacking fixtures live in a checkout (the reliability package sits
#: beside tests/).
FORGING_DIR = Path(__file__).resolve().parent.parent / "tests" / "sandbox" / "fixtures" / "reward_hacking" / "python"
#: Forging fixtures left out of the load mix: the memory and file scan takes up to 15 s of a slot
#: (it is run on every backend by the conformance suite).
FORGING_SKIPPED = ("scan_memory_and_files",)

NOT_PASSED = frozenset({"FAILED", "RUNTIME_ERROR", "TIMEOUT", "MEMORY_EXCEEDED", "OUTPUT_LIMIT_EXCEEDED",
                        "COMPILE_ERROR"})


@dataclass(frozen=True)
class Program:
    kind: str          # benign-correct, benign-wrong, hostile, forging
    name: str
    source: str
    test: str
    entry: str
    expected: frozenset[str]
    wall_ms: int


_TASKS = [
    ("add", "def add(a, b):\n    return a + b\n", "def add(a, b):\n    return a - b\n",
     "def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0\n"),
    ("is_palindrome", "def is_palindrome(s):\n    return s == s[::-1]\n",
     "def is_palindrome(s):\n    return s[0] == s[-1] if s else True\n",
     "def check(candidate):\n    assert candidate('aba')\n    assert not candidate('abca')\n"
     "    assert candidate('')\n"),
    ("fib", "def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n",
     "def fib(n):\n    a, b = 0, 1\n    for _ in range(n + 1):\n        a, b = b, a + b\n    return a\n",
     "def check(candidate):\n    assert candidate(10) == 55\n    assert candidate(1) == 1\n"
     "    assert candidate(0) == 0\n"),
    ("count_vowels", "def count_vowels(s):\n    return sum(c in 'aeiouAEIOU' for c in s)\n",
     "def count_vowels(s):\n    return sum(c in 'aeiou' for c in s)\n",
     "def check(candidate):\n    assert candidate('hello') == 2\n    assert candidate('AEIOU') == 5\n"),
    ("sort_unique", "def sort_unique(xs):\n    return sorted(set(xs))\n",
     "def sort_unique(xs):\n    return sorted(xs)\n",
     "def check(candidate):\n    assert candidate([3, 1, 3, 2]) == [1, 2, 3]\n    assert candidate([]) == []\n"),
    ("word_lengths", "def word_lengths(text):\n    return {w: len(w) for w in text.split()}\n",
     "def word_lengths(text):\n    return {w: len(w) for w in text.split(' ')}\n",
     "def check(candidate):\n    assert candidate('a bb  ccc') == {'a': 1, 'bb': 2, 'ccc': 3}\n"),
]

_ADD_TEST = _TASKS[0][3]
_HOSTILE = {
    "fork_bomb": ("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
                  frozenset({"RUNTIME_ERROR", "TIMEOUT", "MEMORY_EXCEEDED"})),
    # TIMEOUT too: on a loaded machine the pages may not all be touched within the wall limit
    "memory_hog": ("chunks = []\nwhile True:\n    chunks.append(bytearray(64 << 20))\n",
                   frozenset({"MEMORY_EXCEEDED", "RUNTIME_ERROR", "TIMEOUT"})),
    "sleep_past_timeout": ("import time\ntime.sleep(3600)\n", frozenset({"TIMEOUT"})),
    "file_flood": ("import os\ni = 0\nwhile True:\n    with open(f'f{i}', 'wb') as fh:\n"
                   "        fh.write(os.urandom(1 << 20))\n    i += 1\n",
                   frozenset({"RUNTIME_ERROR", "TIMEOUT", "MEMORY_EXCEEDED", "OUTPUT_LIMIT_EXCEEDED"})),
    "endless_output": ("import sys\nwhile True:\n    sys.stdout.write('x' * 4096)\n",
                       frozenset({"OUTPUT_LIMIT_EXCEEDED", "TIMEOUT"})),
}


def _header(text: str, key: str, default: str) -> str:
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        if line.startswith(f"# {key}:"):
            return line.split(":", 1)[1].strip()
    return default


def benign() -> list[Program]:
    out = []
    for name, right, wrong, test in _TASKS:
        out.append(Program("benign-correct", name, right, test, name, frozenset({"PASSED"}), 10_000))
        out.append(Program("benign-wrong", name, wrong, test, name, frozenset({"FAILED"}), 10_000))
    return out


def hostile(wall_ms: int = 2000) -> list[Program]:
    """Module-level attacks: they run when the candidate is imported, before any test call."""
    return [Program("hostile", name, src + "\n\ndef add(a, b):\n    return a + b\n", _ADD_TEST, "add", expected,
                    wall_ms) for name, (src, expected) in _HOSTILE.items()]


def forging(folder: Path = FORGING_DIR) -> list[Program]:
    """The reward-hacking fixtures (``# expect:``, ``# entry:``, ``# test:`` headers, ``{SECRET}``
    replaced by a fresh value). Raises FileNotFoundError naming the folder when it is missing."""
    files = sorted(p for p in folder.glob("*.py") if p.stem not in FORGING_SKIPPED)
    if not files:
        raise FileNotFoundError(f"no reward-hacking fixtures in {folder}")
    secret = secrets.token_hex(16)
    out = []
    for path in files:
        text = path.read_text()
        expected = frozenset(_header(text, "expect", "FAILED").split("|"))
        test = (folder / _header(text, "test", "check_add.txt")).read_text().replace("{SECRET}", secret)
        wall = int(_header(text, "wall_ms", "10000"))
        out.append(Program("forging", path.stem, text, test, _header(text, "entry", "add"), expected, wall))
    return out


def unique(program: Program, n: int) -> str:
    """The program's source made unique for run ``n`` (a trailing comment)."""
    return f"{program.source}\n# codeeval-load run {n}\n"


def request(program: Program, n: int) -> sandbox_pb2.ExecuteRequest:
    """Run ``n`` of ``program`` as a judged Python run: memory 384 MiB, 16 KiB of output kept,
    48 processes, 8 MiB per file, the program's wall (and CPU) limit."""
    limits = sandbox_pb2.Limits(wall_time_ms=program.wall_ms, cpu_time_ms=program.wall_ms, memory_bytes=384 << 20,
                                output_bytes=16 << 10, max_processes=48, max_file_bytes=8 << 20)
    prog = sandbox_pb2.Program(language=common_pb2.LANGUAGE_PYTHON, source=unique(program, n).encode(),
                               test=program.test.encode(), entry_point=program.entry,
                               mode=sandbox_pb2.MODE_RUN_TESTS)
    return sandbox_pb2.ExecuteRequest(id=f"{program.kind}/{program.name}/{n}", program=prog, limits=limits)


def mix(hostile_wall_ms: int = 2000) -> list[Program]:
    """One cycle of the load: each benign program three times, each hostile and forging one once
    (about 60% benign by count)."""
    return benign() * 3 + hostile(hostile_wall_ms) + forging()
