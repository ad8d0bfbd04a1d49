"""The same file read through the registry gives the same items to the bench (a suite task) and the
trainer (a config's source), and a translation length mismatch is one error for both."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from data_fixtures import MBPP_ORIGINAL, MBPP_SANITIZED

from codeeval.data import DataError, Example, Item
from codeeval.kit.errors import FailedPrecondition
from codeeval.kit.paths import datasets_dir
from codeeval.suites import load_suite, read_items
from codeeval.suites.schema import Task
from codeeval.trainer.readers import read
from codeeval.trainer.recipe_schema import SourceSpec


def _task(reader: str, path: Path, **kw: object) -> Task:
    base: dict[str, object] = {"name": "t", "kind": "codegen", "language": "python", "reader": reader,
                               "path": str(path), "task_prompt": "codegen-python"}
    return Task.model_validate({**base, **kw})


def _write_translation(root: Path, java: list[str], cs: list[str]) -> Path:
    prefix = root / "valid.java-cs.txt"
    Path(f"{prefix}.java").write_text("".join(f"{line}\n" for line in java))
    Path(f"{prefix}.cs").write_text("".join(f"{line}\n" for line in cs))
    return prefix


def _both(task: Task, spec: SourceSpec, tmp_path: Path) -> tuple[list[Item], list[Example]]:
    return read_items(task, tmp_path), read(spec, task.name)


def test_translation_gives_the_same_pairs(tmp_path: Path):
    prefix = _write_translation(tmp_path, [f"int get{i}() {{ return {i}; }}  " for i in range(4)],
                                [f"int Get{i}() {{ return {i}; }}" for i in range(4)])
    for direction, src, tgt in (("java-cs", "java", "csharp"), ("cs-java", "csharp", "java")):
        task = _task("codexglue_translation", prefix, kind="translation", language=tgt, source_language=src,
                     task_prompt=f"translate-{direction}")
        spec = SourceSpec.model_validate({"reader": "codexglue_translation", "path": str(prefix),
                                          "direction": direction})
        items, examples = _both(task, spec, tmp_path)
        assert len(items) == 4 and examples == [Example.from_item(it, "t") for it in items]
    assert items[0].fields["code"] == "int Get0() { return 0; }" and items[0].reference == "int get0() { return 0; }"


@pytest.mark.parametrize("path", [MBPP_ORIGINAL, MBPP_SANITIZED], ids=["original", "sanitized"])
def test_mbpp_gives_the_same_items(path: Path, tmp_path: Path):
    task = _task("mbpp", path, task_prompt="nl2code-python")
    items, examples = _both(task, SourceSpec(reader="mbpp", path=str(path)), tmp_path)
    assert len(items) == 3 and examples == [Example.from_item(it, "t") for it in items]


def test_concode_and_summaries_give_the_same_items(tmp_path: Path):
    concode = tmp_path / "dev.json"
    concode.write_text("".join(json.dumps({"nl": f"get {i} concode_field_sep int v{i}",
                                           "code": f"int function ( ) {{ return v{i} ; }}"}) + "\n" for i in range(3)))
    items, examples = _both(_task("concode", concode, language="java", task_prompt="codegen-java"),
                            SourceSpec(reader="concode", path=str(concode)), tmp_path)
    assert items[1].fields == {"description": "get 1\nint v1"}
    assert examples == [Example.from_item(it, "t") for it in items]
    summaries = tmp_path / "sum.jsonl"
    summaries.write_text("".join(json.dumps({"id": f"s{i}", "code": f"def f{i}():\n    return {i}\n",
                                             "reference_summary": f"Return {i}."}) + "\n" for i in range(3)))
    task = _task("study_summarization", summaries, kind="summarization", task_prompt="summarize-python")
    items, examples = _both(task, SourceSpec(reader="study_summarization", path=str(summaries)), tmp_path)
    assert len(items) == 3 and examples == [Example.from_item(it, "t") for it in items]


def test_translation_length_mismatch_is_one_error_for_both(tmp_path: Path):
    prefix = _write_translation(tmp_path, ["a()", "b()", "c()"], ["A()", "B()"])
    task = _task("codexglue_translation", prefix, kind="translation", language="csharp", source_language="java",
                 task_prompt="translate-java-cs")
    with pytest.raises(DataError) as bench_err:
        read_items(task, tmp_path)
    # The trainer used to truncate silently; now it fails the same way, even when a limit is set.
    with pytest.raises(FailedPrecondition) as trainer_err:
        read(SourceSpec(reader="codexglue_translation", path=str(prefix), limit=1), "t")
    for err in (bench_err.value, trainer_err.value):
        assert f"{prefix}.java has 3 lines but {prefix}.cs has 2" in str(err)
    assert str(trainer_err.value).startswith("data.tasks[t].source.path: ")


def test_unknown_reader_names_get_did_you_mean_in_suites_and_trainer(tmp_path: Path):
    from codeeval.kit.errors import InvalidArgument
    from codeeval.trainer.recipe_schema import validate

    with pytest.raises(InvalidArgument, match="did you mean 'concode'"):
        validate({"model": {"base": "default", "template": "chatml"}, "method": {"kind": "lora"},
                  "data": {"tasks": [{"name": "t", "task_prompt": "codegen-java",
                                      "source": {"reader": "concod", "path": "x"}}]}})
    with pytest.raises(ValueError, match="did you mean 'mbpp'"):
        read_items(_task("mbp", MBPP_ORIGINAL), tmp_path)


SHARED = datasets_dir()


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared datasets not present")
def test_shipped_study_suite_and_trainer_read_the_shared_files_alike():
    loaded = load_suite("study")
    for task_name, spec in (
        ("codexglue-java-cs", SourceSpec(reader="codexglue_translation",
                                         path="${datasets}/codexglue_code_to_code_trans/test.java-cs.txt")),
        ("study-summarize-python", SourceSpec(reader="study_summarization",
                                              path="${datasets}/paper_replication/cs_codereval_eval_dataset_py_v2.jsonl")),
    ):
        items = read_items(loaded.suite.task(task_name), loaded.base_dir)
        assert read(spec, task_name) == [Example.from_item(it, task_name) for it in items]
