"""Program assembly: answers of every shape become runnable programs; our references pass our tests.

The Python references are run here with the host interpreter (our own trusted code); the Java and
C# references go through the real sandbox in test_e2e.py.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from codeeval.data import Item
from codeeval.pipeline.programs import build_program, java_source, python_source
from codeeval.suites import load_suite, read_items


def _python_program_passes(spec) -> bool:
    text = spec.source + "\n\n" + spec.test + (f"\n\ncheck({spec.entry_point})\n" if spec.entry_point else "")
    proc = subprocess.run([sys.executable, "-I", "-c", text], capture_output=True, timeout=30)
    return proc.returncode == 0


def _default_items(task_name):
    loaded = load_suite("default")
    task = loaded.suite.task(task_name)
    return task, read_items(task, loaded.base_dir)


def test_python_references_pass_and_a_wrong_answer_fails():
    task, items = _default_items("codegen-python")
    for item in items:
        assert _python_program_passes(build_program(task, item, item.reference)), item.id
    wrong = build_program(task, items[0], f"def {items[0].function}(*args):\n    return None\n")
    assert not _python_program_passes(wrong)


def test_python_completion_of_the_prompt_is_prepended():
    item = Item("x", {}, prompt_code="import math\n\ndef f(x):\n    \"\"\"doc\"\"\"\n", function="f", entry_point="f")
    assert python_source(item, "    return math.floor(x)\n").startswith("import math\n\ndef f(x):")
    full = python_source(item, "def f(x):\n    return math.floor(x)\n")
    assert full.startswith("import math\n\ndef f(x):\n    return")


def test_java_answer_shapes():
    prompt = "import java.util.*;\n\npublic class Solution {\n    /** doc */\n    public static int f(int x) {\n"
    item = Item("j", {}, prompt_code=prompt, function="f", entry_point="Main", test="class Main {}")
    method = java_source(item, "public static int f(int x) {\n    return x;\n}\n")
    assert method.startswith("import java.util.*;\n\npublic class Solution {\npublic static int f")
    assert method.rstrip().endswith("}\n}")
    body = java_source(item, "        return x;\n    }\n")
    assert body.count("{") == body.count("}")
    klass = java_source(item, "public class Solution { public static int f(int x) { return x; } }")
    assert klass.startswith("import java.util.*;") and klass.count("class Solution") == 1
    bare = java_source(Item("t", {}), "import java.util.List;\nint g() { return 1; }")
    assert bare.startswith("import java.util.List;\n\npublic class Solution {")


def test_modes_follow_the_task():
    task, items = _default_items("translate-java-cs")
    assert build_program(task, items[0], items[0].reference).mode == "compile_only"
    task, items = _default_items("translate-cs-java")
    assert build_program(task, items[0], items[0].reference).mode == "run_tests"
    task, items = _default_items("summarize-python")
    assert build_program(task, items[0], "Removes duplicates.").mode == "none"
    task, items = _default_items("codegen-python")
    assert build_program(task, items[0], "").mode == "none"


def test_identical_answers_share_a_program_key():
    task, items = _default_items("codegen-python")
    a = build_program(task, items[0], items[0].reference)
    b = build_program(task, items[0], items[0].reference)
    c = build_program(task, items[1], items[0].reference)
    assert a.key == b.key and a.key != c.key


@pytest.mark.parametrize("task_name", ["codegen-java", "translate-cs-java"])
def test_java_references_assemble_into_one_solution_class(task_name):
    task, items = _default_items(task_name)
    for item in items:
        spec = build_program(task, item, item.reference)
        assert spec.source.count("class Solution") == 1 and spec.source.count("{") == spec.source.count("}")
