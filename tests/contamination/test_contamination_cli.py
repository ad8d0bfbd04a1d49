"""``codeeval contamination`` on the shipped default suite (its items ship with the package): exit
codes 0 clean / 1 contaminated / 2 bad input / 3 unknown, the table and the JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codeeval.cli.main import main
from codeeval.suites import load_suite, read_items


@pytest.fixture(scope="module")
def default_items() -> dict:
    loaded = load_suite("default")
    return {t.name: {i.id: i for i in read_items(t, loaded.base_dir)} for t in loaded.suite.tasks}


def _jsonl(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["contamination", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_planted_items_exit_1_with_their_ids_per_side(tmp_path, capsys, default_items):
    dedupe = default_items["summarize-python"]["sum-py-dedupe"]
    lru = default_items["summarize-java"]["sum-java-lru"]
    retry = default_items["summarize-python"]["sum-py-retry"]
    reworded = retry.fields["code"].replace("attempt", "try_number").replace("delay", "pause")
    train = _jsonl(tmp_path / "train.jsonl", [
        {"q": dedupe.fields["code"], "a": "some summary of our own"},           # a prompt copied
        {"q": "summarize this", "a": "In short: " + lru.reference},            # a reference copied
        {"q": reworded, "a": "retries a call"},                                 # renamed identifiers
    ])
    code, out, err = _run(capsys, "--train", f"jsonl:{train}", "--fields", "code=q", "--target", "a",
                          "--suite", "default", "--json")
    assert code == 1 and err == ""
    result = json.loads(out)
    assert result["status"] == "contaminated"
    assert result["settings"] == {"n": 13, "whitespace": True, "comments": False, "lowercase": False}
    summ, java = result["tasks"]["summarize-python"], result["tasks"]["summarize-java"]
    assert summ["contaminated"]["prompt"] == {"count": 1, "ids": ["sum-py-dedupe"]}
    assert summ["contaminated"]["reference"] == {"count": 0, "ids": []}
    assert java["contaminated"]["reference"] == {"count": 1, "ids": ["sum-java-lru"]}
    assert java["contaminated"]["prompt"] == {"count": 0, "ids": []}
    assert summ["clean_ids"] == ["sum-py-retry", "sum-py-histogram", "sum-py-env-flag"]
    assert "sum-java-median" in java["short"]["reference"]
    assert [t for t, r in result["tasks"].items() if r["status"] == "contaminated"] == [
        "summarize-python", "summarize-java"]
    code, table, _ = _run(capsys, "--train", f"jsonl:{train}", "--fields", "code=q", "--target", "a",
                          "--suite", "default")
    assert code == 1
    assert "summarize-python prompt contaminated: sum-py-dedupe" in table
    assert "summarize-java reference contaminated: sum-java-lru" in table
    assert "suite default: contamination contaminated" in table


def test_unrelated_training_data_exit_0(tmp_path, capsys):
    train = _jsonl(tmp_path / "t.jsonl", [{"q": f"def f{i}(x): return x * {i} + {i} - 1", "a": "scales x"}
                                          for i in range(20)])
    code, out, _ = _run(capsys, "--train", f"jsonl:{train}", "--fields", "code=q", "--target", "a",
                        "--suite", "default", "--json")
    assert code == 0 and json.loads(out)["status"] == "clean"


def test_an_adapter_without_metadata_exits_3_unknown(tmp_path, capsys):
    (tmp_path / "adapter_config.json").write_text("{}")
    code, out, _ = _run(capsys, "--adapter", str(tmp_path), "--suite", "default", "--json")
    result = json.loads(out)
    assert code == 3 and result["status"] == "unknown" and "provenance unknown" in result["reason"]
    assert result["tasks"]["codegen-python"]["clean_ids"] is None
    assert result["provenance"]["status"] == "unknown" and result["provenance"]["mixture"] == []


def test_an_adapter_with_metadata_prints_its_provenance_and_checks_its_data(tmp_path, capsys, default_items):
    dedupe = default_items["summarize-python"]["sum-py-dedupe"]
    train = _jsonl(tmp_path / "train.jsonl", [{"code": dedupe.fields["code"], "summary": "dedupes"}])
    source = {"reader": "jsonl", "path": train, "fields": {"code": "code"}, "target": "summary"}
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "codeeval_adapter.json").write_text(json.dumps({
        "method": "lora", "base_model": "default", "base_model_sha256": "f" * 64, "template": "smollm2", "seed": 0,
        "steps": 12, "mixture": [{"task": "summarize-python", "available": 1, "effective": 1, "proportion": 1.0}],
        "config": {"data": {"tasks": [{"name": "summarize-python", "source": source}]}}}))
    code, out, _ = _run(capsys, "--adapter", str(adapter), "--suite", "default")
    assert code == 1
    assert "lora on default (sha256 ffffffffffff), template smollm2, seed 0, 12 steps" in out
    assert "mixture summarize-python: 1 of 1 examples (100.0%)" in out
    assert "summarize-python prompt contaminated: sum-py-dedupe" in out


@pytest.mark.parametrize(("argv", "message"), [
    (["--adapter", "/nonexistent/adapter"], "adapter: /nonexistent/adapter is not an adapter folder"),
    (["--train", "jsnol:x.jsonl"], "did you mean 'jsonl'"),
    (["--train", "jsonl"], "'jsonl' is not READER:PATH"),
    (["--train", "jsonl:/nonexistent/t.jsonl", "--fields", "code=q", "--target", "a"], "/nonexistent/t.jsonl"),
    (["--train", "jsonl:/nonexistent/t.jsonl"], "needs option 'fields'"),
    (["--adapter", ".", "--n", "0"], "--n: 0 is outside 1..64"),
    (["--adapter", ".", "--limit", "0"], "--limit: 0 is below the minimum of 1"),
])
def test_bad_input_is_one_line_and_exit_2(argv, message, capsys):
    code, out, err = _run(capsys, *argv, "--suite", "default")
    assert code == 2 and out == ""
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_an_unknown_suite_exits_2(capsys):
    code, _, err = _run(capsys, "--adapter", ".", "--suite", "defualt")
    assert code == 2 and "did you mean 'default'" in err


def test_a_malformed_training_file_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"q": "x", "a": "y"}\nnot json\n')
    code, out, err = _run(capsys, "--train", f"jsonl:{bad}", "--fields", "code=q", "--target", "a",
                          "--suite", "default")
    assert code == 2 and out == "" and "bad.jsonl" in err


def test_parallel_translation_files_as_training_data(tmp_path, capsys, default_items):
    clamp = default_items["translate-java-cs"]["j2c-clamp"]
    java = ["public int one() { return 1; }", " ".join(clamp.fields["code"].split())]
    cs = ["public int One() { return 1; }", "public int Two() { return 2; }"]
    (tmp_path / "train.java-cs.txt.java").write_text("\n".join(java) + "\n")
    (tmp_path / "train.java-cs.txt.cs").write_text("\n".join(cs) + "\n")
    code, out, _ = _run(capsys, "--train", f"codexglue_translation:{tmp_path}/train.java-cs.txt",
                        "--suite", "default", "--json")
    result = json.loads(out)
    assert code == 1 and result["sources"][0]["examples"] == 2
    assert result["tasks"]["translate-java-cs"]["contaminated"]["prompt"]["ids"] == ["j2c-clamp"]
    assert result["tasks"]["translate-java-cs"]["matches"]["j2c-clamp"]["prompt"]["kind"] == "exact"


def test_against_prints_the_difference_of_two_mixtures(tmp_path, capsys):
    def adapter(name: str, mixture: list[dict]) -> str:
        folder = tmp_path / name
        folder.mkdir()
        (folder / "codeeval_adapter.json").write_text(json.dumps({"mixture": mixture, "config": {"data": {}}}))
        return str(folder)

    a = adapter("a", [{"task": "summ", "available": 10, "effective": 10, "proportion": 0.5},
                      {"task": "trans", "available": 10, "effective": 10, "proportion": 0.5}])
    b = adapter("b", [{"task": "summ", "available": 10, "effective": 30, "proportion": 1.0}])
    code, out, _ = _run(capsys, "--adapter", a, "--against", b, "--suite", "default")
    assert code == 3  # the adapters name no training sources: contamination unknown
    assert "  summ: 10 -> 30 examples (50.0% -> 100.0%)" in out and "  trans: 10 -> - examples (50.0% -> -)" in out
    code, out, _ = _run(capsys, "--adapter", a, "--against", b, "--suite", "default", "--json")
    assert json.loads(out)["mixture_diff"][1] == {"task": "trans", "a_effective": 10, "b_effective": None,
                                                  "a_proportion": 0.5, "b_proportion": None}
    code, _, err = _run(capsys, "--train", "jsonl:x", "--against", b, "--suite", "default")
    assert code == 2 and "--against compares two adapters' mixtures: give --adapter too" in err
