"""The reader registry and the JSONL helper: did-you-mean, errors that name the file, exclusions,
duplicate ids, and the gzip / JSON-array shapes."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from codeeval.data import (
    READERS,
    DataError,
    DataNotFound,
    Item,
    Source,
    SourceError,
    get_reader,
    read_items,
    read_records,
    register,
    write_records,
)
from codeeval.kit.errors import FailedPrecondition, InvalidArgument, NotFound

BUILT_IN = {"humaneval", "humaneval_x", "mbpp", "codereval_prompts", "codeeval_yaml", "codexglue_translation",
            "concode", "study_summarization", "jsonl", "hf"}


def test_every_format_the_project_reads_is_registered():
    assert set(READERS) >= BUILT_IN
    assert all(READERS[name].summary for name in BUILT_IN)


def test_unknown_reader_name_gets_did_you_mean():
    with pytest.raises(SourceError, match=r"unknown reader 'humaneavl'; did you mean 'humaneval'\?") as info:
        get_reader("humaneavl")
    assert isinstance(info.value, InvalidArgument) and info.value.key == "reader"
    with pytest.raises(SourceError, match="did you mean 'study_summarization'"):
        read_items(Source("study_sumarization", Path("x.jsonl")))
    with pytest.raises(SourceError, match="; known: "):
        get_reader("zzzzzzzz")


def test_missing_file_is_data_not_found_naming_it(tmp_path: Path):
    with pytest.raises(DataNotFound, match=r"nope\.jsonl does not exist") as info:
        read_items(Source("humaneval", tmp_path / "nope.jsonl"))
    assert isinstance(info.value, NotFound) and isinstance(info.value, FileNotFoundError)
    with pytest.raises(DataNotFound, match=r"pair\.txt\.java does not exist"):
        read_items(Source("codexglue_translation", tmp_path / "pair.txt", language="csharp", source_language="java"))


def test_mapping_readers_need_their_options(tmp_path: Path):
    path = tmp_path / "d.jsonl"
    write_records(path, [{"a": "1", "b": "2"}])
    with pytest.raises(SourceError, match="needs option 'fields'"):
        read_items(Source("jsonl", path))
    with pytest.raises(DataError, match=r"d\.jsonl:1: record has no key 'c' \(keys: a, b\)") as info:
        read_items(Source("jsonl", path, options={"fields": {"code": "a"}, "target": "c"}))
    assert isinstance(info.value, FailedPrecondition) and info.value.key == "fields"
    [item] = read_items(Source("jsonl", path, options={"fields": {"code": "a"}, "target": "b"}))
    assert item == Item(id="d-0", fields={"code": "1"}, reference="2")


def test_jsonl_helper_reads_gzip_json_arrays_and_names_bad_lines(tmp_path: Path):
    recs = [{"task_id": i, "x": "é"} for i in range(3)]
    assert write_records(tmp_path / "a.jsonl.gz", recs) == 3
    with gzip.open(tmp_path / "a.jsonl.gz", "rt", encoding="utf-8") as fh:
        assert fh.read().count("\n") == 3
    assert list(read_records(tmp_path / "a.jsonl.gz")) == recs
    (tmp_path / "b.json").write_text("\n  " + json.dumps(recs))
    assert list(read_records(tmp_path / "b.json")) == recs
    (tmp_path / "c.jsonl").write_text("\n" + json.dumps(recs[0]) + "\n\n{oops\n")
    with pytest.raises(DataError, match=r"c\.jsonl:4: not JSON"):
        list(read_records(tmp_path / "c.jsonl"))
    (tmp_path / "d.jsonl").write_text("[1, 2]\n")
    with pytest.raises(DataError, match="record 1 is a JSON int, not an object"):
        list(read_records(tmp_path / "d.jsonl"))


def test_exclusions_limit_and_duplicate_ids(tmp_path: Path):
    path = tmp_path / "s.jsonl"
    write_records(path, [{"id": f"t{i}", "code": f"def f{i}(): pass", "reference_summary": f"does {i} "}
                         for i in range(5)])
    (tmp_path / "drop.json").write_text(json.dumps({"python": ["t1"], "java": ["t2"]}))
    source = Source("study_summarization", path, options={"exclude_ids_file": tmp_path / "drop.json"})
    items = read_items(source)
    assert [it.id for it in items] == ["t0", "t2", "t3", "t4"]
    assert items[0].reference == "does 0" and items[0].source == items[0].fields["code"]
    assert [it.id for it in read_items(source, limit=2)] == ["t0", "t2"]
    write_records(path, [{"id": "same", "code": "x", "reference_summary": "y"}] * 2)
    with pytest.raises(DataError, match="item id 'same' appears more than once"):
        read_items(Source("study_summarization", path))


def test_packages_above_may_register_readers(tmp_path: Path):
    @register("test_upper")
    def read_upper(source: Source):
        """Upper-cased lines."""
        assert source.path is not None
        for i, line in enumerate(source.path.read_text().splitlines()):
            yield Item(id=str(i), fields={"code": line}, reference=line.upper())

    try:
        (tmp_path / "x.txt").write_text("ab\ncd\n")
        assert [it.reference for it in read_items(Source("test_upper", tmp_path / "x.txt"))] == ["AB", "CD"]
        assert READERS["test_upper"].summary == "Upper-cased lines."
    finally:
        del READERS["test_upper"]
