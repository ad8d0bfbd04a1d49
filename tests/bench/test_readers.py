"""Readers over the shared datasets and our own items (skipped when the shared data are absent)."""

from __future__ import annotations

import gzip
import json

import pytest

from codeeval.data import DataError
from codeeval.kit.paths import datasets_dir
from codeeval.suites import load_suite, read_items
from codeeval.suites.schema import Task

DATASETS = datasets_dir()
needs_data = pytest.mark.skipif(not DATASETS.is_dir(), reason="shared datasets not present")


def _task(**kw) -> Task:
    base = {"name": "t", "kind": "codegen", "language": "python", "reader": "humaneval", "path": "x",
            "task_prompt": "codegen-python"}
    base.update(kw)
    return Task.model_validate(base)


def test_default_suite_items_have_what_their_task_needs():
    loaded = load_suite("default")
    for task in loaded.suite.tasks:
        items = read_items(task, loaded.base_dir)
        assert len(items) >= 4, task.name
        for it in items:
            assert it.reference, (task.name, it.id)
            if task.kind == "codegen":
                assert it.test and it.function and it.entry_point, it.id
            if task.kind == "summarization":
                assert it.source and it.reference.lower() not in it.source.lower()


def test_humaneval_reader_on_a_written_file(tmp_path):
    rec = {"task_id": "HumanEval/0", "prompt": "def f(x):\n", "canonical_solution": "    return x\n",
           "test": "def check(c):\n    assert c(1) == 1\n", "entry_point": "f"}
    path = tmp_path / "he.jsonl.gz"
    with gzip.open(path, "wt") as fh:
        fh.write(json.dumps(rec) + "\n")
    [item] = read_items(_task(path=str(path)), tmp_path)
    assert item.id == "HumanEval/0" and item.entry_point == "f" and item.reference.endswith("return x\n")


def test_mbpp_reader_puts_asserts_in_the_test(tmp_path):
    rec = {"task_id": 2, "text": "Add two numbers.", "code": "def add(a, b):\n    return a + b",
           "test_list": ["assert add(1, 2) == 3", "assert add(0, 0) == 0"], "test_setup_code": ""}
    path = tmp_path / "mbpp.jsonl"
    path.write_text(json.dumps(rec) + "\n")
    [item] = read_items(_task(reader="mbpp", path=str(path), task_prompt="nl2code-python"), tmp_path)
    assert item.function == "add" and "assert add(0, 0) == 0" in item.test
    assert "assert add(1, 2) == 3" in item.fields["description"]


def test_humaneval_x_java_reader(tmp_path):
    rec = {"task_id": "Java/0", "prompt": "import java.util.*;\nclass Solution {\n    public int twice(int x) {\n",
           "declaration": "import java.util.*;\nclass Solution {\n    public int twice(int x) {\n",
           "canonical_solution": "        return 2 * x;\n    }\n}", "test": "public class Main {}"}
    path = tmp_path / "hx.jsonl"
    path.write_text(json.dumps(rec) + "\n")
    [item] = read_items(_task(reader="humaneval_x", language="java", path=str(path)), tmp_path)
    assert item.function == "twice" and item.entry_point == "Main"


def test_reader_errors_name_the_file_and_field(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"task_id": "x"}) + "\n")
    with pytest.raises(DataError, match="has no field .prompt."):
        read_items(_task(path=str(path)), tmp_path)
    path.write_text("{not json\n")
    with pytest.raises(ValueError, match="bad.jsonl:1: not JSON"):
        read_items(_task(path=str(path)), tmp_path)


@needs_data
def test_study_suite_sizes_match_the_study():
    loaded = load_suite("study")
    sizes = {t.name: len(read_items(t, loaded.base_dir)) for t in loaded.suite.tasks}
    assert sizes["humaneval-python"] == 164
    assert sizes["codereval-python"] == 190 and sizes["codereval-java"] == 184  # the study's denominators
    assert sizes["codexglue-java-cs"] == sizes["codexglue-cs-java"] == 1000
    assert sizes["study-summarize-python"] == 100 and sizes["study-summarize-java"] == 99


@needs_data
def test_translation_directions_swap_source_and_reference():
    loaded = load_suite("study")
    j2c = read_items(loaded.suite.task("codexglue-java-cs"), loaded.base_dir)[0]
    c2j = read_items(loaded.suite.task("codexglue-cs-java"), loaded.base_dir)[0]
    assert j2c.fields["code"] == c2j.reference and c2j.fields["code"] == j2c.reference
