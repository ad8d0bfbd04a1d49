"""MBPP in both published shapes (original: text, code, test_list, test_setup_code; sanitized: prompt,
code, test_imports, test_list, as one JSON array) reads into items whose tests run every reference to
PASSED in the real sandbox, including the tasks whose tests need ``import math``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from data_fixtures import MBPP_ORIGINAL, MBPP_SANITIZED

from codeeval.data import DataError, Item, Source, read_items


def _items(path: Path) -> list[Item]:
    return read_items(Source("mbpp", path))


def test_original_shape():
    items = {it.id: it for it in _items(MBPP_ORIGINAL)}
    assert list(items) == ["17", "139", "14"]
    it = items["139"]
    assert it.fields["description"].startswith("Write a function to find the circumference of a circle.\n")
    assert "assert math.isclose(circle_circumference(10)" in it.fields["description"]
    assert it.test.startswith("import math\nassert math.isclose(")
    assert it.function == "circle_circumference" and it.entry_point == "" and it.reference.startswith("def ")
    assert items["14"].function == "find_Volume"


def test_sanitized_shape_puts_test_imports_before_the_asserts():
    items = {it.id: it for it in _items(MBPP_SANITIZED)}
    assert list(items) == ["2", "139", "82"]
    assert items["139"].test.splitlines()[0] == "import math"
    assert items["139"].fields["description"].startswith("Write a function to find the circumference")
    assert items["2"].test.startswith("assert set(similar_elements(")
    assert items["82"].function == "volume_sphere"


def test_a_record_of_neither_shape_names_the_fields(tmp_path: Path):
    path = tmp_path / "m.jsonl"
    path.write_text(json.dumps({"task_id": 5, "code": "x = 1", "test_list": ["assert x == 1"]}) + "\n")
    with pytest.raises(DataError, match=r"record 5 has neither 'text' \(original MBPP\) nor 'prompt'"):
        _items(path)


@pytest.mark.slow  # the engine's start compiles the Java launcher (~10 s on a loaded 2-core machine)
@pytest.mark.integration
@pytest.mark.asyncio(loop_scope="module")
async def test_every_reference_passes_in_the_real_sandbox(engine):
    from codeeval.sandbox.model import Language, Outcome, RunRequest

    items = [(path.name, it) for path in (MBPP_ORIGINAL, MBPP_SANITIZED) for it in _items(path)]
    # The same math task without its import fails: the imports are what make the references pass.
    broken = next(it for name, it in items if name == MBPP_SANITIZED.name and it.id == "139")
    reqs = [RunRequest(Language.PYTHON, it.reference, it.test, it.entry_point, id=f"{name}:{it.id}")
            for name, it in items]
    reqs.append(RunRequest(Language.PYTHON, broken.reference, broken.test.replace("import math\n", ""),
                           id="no-import"))
    outcomes = {reqs[i].id: res.outcome async for i, res in engine.execute_batch(reqs)}
    assert outcomes.pop("no-import") is not Outcome.PASSED
    assert outcomes == {r.id: Outcome.PASSED for r in reqs[:-1]}


def test_benchmark_files_are_told_apart_by_their_records(tmp_path: Path):
    from codeeval.data import SourceError, benchmark_source, write_records

    assert benchmark_source(MBPP_ORIGINAL) == Source("mbpp", MBPP_ORIGINAL, "python")
    assert benchmark_source(MBPP_SANITIZED).reader == "mbpp"
    he = tmp_path / "HumanEval.jsonl.gz"
    write_records(he, [{"task_id": "HumanEval/0", "prompt": "def f():\n", "canonical_solution": "    return 1\n",
                        "test": "def check(c):\n    assert c() == 1\n", "entry_point": "f"}])
    assert benchmark_source(he) == Source("humaneval", he, "python")
    hx = tmp_path / "humaneval_java.jsonl"
    write_records(hx, [{"task_id": "Java/0", "prompt": "class Solution {\n", "declaration": "class Solution {\n",
                        "canonical_solution": "}", "test": "public class Main {}"}])
    assert benchmark_source(hx) == Source("humaneval_x", hx, "java")
    write_records(hx, [{"task_id": "CPP/0", "prompt": "", "declaration": "", "test": ""}])
    with pytest.raises(SourceError, match="HumanEval-X cpp tasks are not supported"):
        benchmark_source(hx)
    write_records(hx, [{"id": 1, "code": "x"}])
    with pytest.raises(SourceError, match=r"or MBPP file \(first record's keys: code, id\)"):
        benchmark_source(hx)
