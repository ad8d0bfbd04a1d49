"""Provenance: the adapter's metadata as a typed record, "unknown" without it, the sources it names,
the diff of two mixtures; and the check of an adapter against suite items (check_adapter)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codeeval.contamination import bench_record, check_adapter, mixture_diff, read_provenance, training_sources
from codeeval.data import READERS, Item
from codeeval.kit.errors import NotFound

PAIRS = [{"java": f"public int get{i}() {{ return value{i} * {i} + offset{i} - base{i}; }}",
          "cs": f"public int Get{i}() {{ return Value{i} * {i} + Offset{i} - Base{i}; }}"} for i in range(6)]


def _adapter(root: Path, train_file: Path, mixture: list[dict], extra_tasks: list[dict] | None = None) -> Path:
    """An adapter folder whose metadata has the keys and shapes the trainer's Recipe.save writes."""
    root.mkdir(parents=True)
    (root / "adapter_config.json").write_text("{}")
    tasks = [{"name": "translate-java-cs", "task_prompt": "translate-java-cs", "eval_source": None,
              "source": {"reader": "jsonl", "path": str(train_file), "fields": {"code": "java"}, "target": "cs",
                         "direction": "java-cs", "language": "python", "limit": None, "split": "train",
                         "hf_name": "", "hf_config": None, "strip_docstring": False}}, *(extra_tasks or [])]
    meta = {"template": "smollm2", "template_sha256": "a" * 64, "template_rendered_sha256": "b" * 64,
            "base_model": "default", "base_model_path": "/models/x", "base_model_sha256": "c" * 64,
            "task_prompts": {"translate-java-cs": {"name": "translate-java-cs", "sha256": "d" * 64}},
            "kind": "adapter", "method": "lora", "seed": 3, "steps": 12, "outcome": "completed",
            "config": {"data": {"tasks": tasks, "mixing": {"strategy": "natural", "temperature": 2.0, "size": None}},
                       "train": {"seed": 3}},
            "mixture": mixture, "metrics": {"train_loss": 1.5}, "cost": {"wall_seconds": 12.5},
            "versions": {"python": "3.11"}}
    (root / "codeeval_adapter.json").write_text(json.dumps(meta))
    return root


@pytest.fixture
def train_file(tmp_path: Path) -> Path:
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in PAIRS))
    return path


MIX = [{"task": "translate-java-cs", "available": 6, "effective": 6, "proportion": 1.0}]


def test_metadata_becomes_a_typed_record(tmp_path, train_file):
    prov = read_provenance(_adapter(tmp_path / "a", train_file, MIX))
    assert prov.status == "known" and prov.reason == ""
    assert (prov.base_model, prov.base_model_sha256, prov.template) == ("default", "c" * 64, "smollm2")
    assert prov.mixture[0].task == "translate-java-cs" and prov.mixture[0].effective == 6
    assert prov.seed == 3 and prov.cost == {"wall_seconds": 12.5} and prov.mixing["strategy"] == "natural"
    assert prov.data_sha256 is None  # the trainer records no data hashes: not recorded, never invented
    assert json.loads(json.dumps(prov.to_json()))["mixture"][0]["proportion"] == 1.0


def test_an_adapter_without_metadata_has_unknown_provenance_and_unknown_contamination(tmp_path):
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "adapter_config.json").write_text("{}")
    prov = read_provenance(bare)
    assert prov.status == "unknown" and "provenance unknown" in prov.reason and "codeeval_adapter.json" in prov.reason
    assert prov.mixture == [] and prov.base_model is None and training_sources(prov) == []
    result = check_adapter({"t": [Item("x", {"code": "a b c"}, reference="d")]}, bare)
    assert result.status == "unknown" and "provenance unknown" in result.reason
    assert result.clean_ids("t") is None


def test_malformed_metadata_is_unknown_and_a_missing_folder_is_not_found(tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "codeeval_adapter.json").write_text("{not json")
    assert read_provenance(bad).status == "unknown" and "not JSON" in read_provenance(bad).reason
    (bad / "codeeval_adapter.json").write_text("[1, 2]")
    assert "not a JSON object" in read_provenance(bad).reason
    (bad / "codeeval_adapter.json").write_text(json.dumps({"mixture": [{"task": "t", "available": "many"}]}))
    odd = read_provenance(bad)
    assert odd.status == "unknown" and "mixture is not a list of task/available/effective/proportion" in odd.reason
    with pytest.raises(NotFound, match="^adapter: .* is not an adapter folder"):
        read_provenance(tmp_path / "nowhere")


def test_check_adapter_reads_the_recorded_training_data(tmp_path, train_file):
    adapter = _adapter(tmp_path / "a", train_file, MIX)
    items = {"translate": [Item(f"j{i}", {"code": p["java"]}, reference=p["cs"]) for i, p in enumerate(PAIRS[:2])]
             + [Item("fresh", {"code": "public int fresh() { return 1; }"}, reference="public int Fresh() {}")]}
    result = check_adapter(items, adapter)
    assert result.status == "contaminated"
    task = result.tasks["translate"]
    assert task.contaminated == {"prompt": ["j0", "j1"], "reference": ["j0", "j1"]}
    assert task.clean_ids() == ["fresh"]
    assert task.short["prompt"] == ["j0", "j1", "fresh"]  # 8 words each: found by the exact check
    assert task.matches["j1"]["prompt"].kind == "exact" and task.matches["j1"]["prompt"].example == 1
    assert result.sources[0].examples == 6 and result.sources[0].error == ""


def test_a_reader_no_installed_distribution_declares_makes_the_result_unknown_unless_something_matched(
        tmp_path, train_file, monkeypatch):
    # as on a machine with the core and no trainer: 'mined' neither registered nor declared as an entry point
    monkeypatch.delitem(READERS, "mined", raising=False)
    monkeypatch.setattr("codeeval.contamination.provenance.entry_points", lambda **_: [])
    mined = {"name": "summarize-python", "task_prompt": "summarize-python", "eval_source": None,
             "source": {"reader": "mined", "path": "${stdlib}/json", "language": "python", "limit": 8}}
    adapter = _adapter(tmp_path / "a", train_file, MIX, [mined])
    sources = training_sources(read_provenance(adapter))
    assert [s.label for s in sources] == ["translate-java-cs (jsonl)", "summarize-python (mined)"]
    assert sources[1].unavailable.startswith("unknown reader 'mined'")
    assert "no installed distribution declares it as a codeeval.readers entry point" in sources[1].unavailable
    fresh = {"t": [Item("fresh", {"code": "public int fresh() { return 1; }"}, reference="x")]}
    unknown = check_adapter(fresh, adapter)
    assert unknown.status == "unknown" and "summarize-python (mined)" in unknown.reason
    copied = check_adapter({"t": [Item("j0", {"code": PAIRS[0]["java"]}, reference="x")]}, adapter)
    assert copied.status == "contaminated" and copied.tasks["t"].contaminated["prompt"] == ["j0"]


def test_missing_training_files_make_contamination_unknown(tmp_path):
    adapter = _adapter(tmp_path / "a", tmp_path / "gone.jsonl", MIX)
    result = check_adapter({"t": [Item("x", {"code": "a"}, reference="b")]}, adapter)
    assert result.status == "unknown" and "gone.jsonl" in result.reason


def test_mixture_diff_names_each_task_of_both_adapters(tmp_path, train_file):
    a = read_provenance(_adapter(tmp_path / "a", train_file, [
        {"task": "translate-java-cs", "available": 6, "effective": 6, "proportion": 0.6},
        {"task": "summarize-java", "available": 4, "effective": 4, "proportion": 0.4}]))
    b = read_provenance(_adapter(tmp_path / "b", train_file, [
        {"task": "translate-java-cs", "available": 6, "effective": 5, "proportion": 0.5},
        {"task": "summarize-python", "available": 9, "effective": 5, "proportion": 0.5}]))
    diff = mixture_diff(a, b)
    assert diff is not None
    assert [(d.task, d.a_effective, d.b_effective) for d in diff] == [
        ("translate-java-cs", 6, 5), ("summarize-java", 4, None), ("summarize-python", None, 5)]
    assert diff[0].proportion_change == pytest.approx(-0.1)
    bare = tmp_path / "bare"
    bare.mkdir()
    assert mixture_diff(a, read_provenance(bare)) is None


def test_hub_datasets_are_read_only_when_asked(tmp_path, train_file):
    hub = {"name": "codegen-python", "task_prompt": "nl2code-python", "eval_source": None,
           "source": {"reader": "hf", "path": "", "hf_name": "google/code_x_glue_ct_code_to_text",
                      "hf_config": "python", "fields": {"description": "docstring"}, "target": "code"}}
    prov = read_provenance(_adapter(tmp_path / "a", train_file, MIX, [hub]))
    quiet = training_sources(prov)[1]
    assert quiet.source is None and "hub dataset 'google/code_x_glue_ct_code_to_text' not read" in quiet.unavailable
    asked = training_sources(prov, hub=True)[1]
    assert asked.unavailable == "" and asked.source is not None and asked.source.path is None
    assert asked.source.options["hf_name"] == "google/code_x_glue_ct_code_to_text"
    assert asked.source.options["fields"] == {"description": "docstring"}


def test_a_hand_edited_config_of_the_wrong_shape_makes_the_check_unknown(tmp_path, train_file):
    adapter = _adapter(tmp_path / "a", train_file, MIX, [{"name": "odd", "source": ["not", "a", "mapping"]},
                                                         {"name": "odder", "source": {"reader": "jsonl",
                                                          "path": str(train_file), "fields": "code",
                                                          "target": "cs"}}])
    result = check_adapter({"t": [Item("x", {"code": "a fresh text"}, reference="b")]}, adapter)
    assert result.status == "unknown"
    assert [s.error for s in result.sources][1:] == ["the recorded source names no reader",
                                                     "the recorded source's fields is not a dict"]
    meta = json.loads((adapter / "codeeval_adapter.json").read_text())
    meta["config"]["data"] = ["tasks"]
    (adapter / "codeeval_adapter.json").write_text(json.dumps(meta))
    prov = read_provenance(adapter)
    assert prov.status == "known" and training_sources(prov) == []
    assert check_adapter({"t": []}, prov).status == "unknown"


def test_bench_record_of_a_local_adapter_and_of_one_only_the_generator_sees(tmp_path, train_file):
    adapter = _adapter(tmp_path / "a", train_file, MIX)
    items = {"t": [Item("j0", {"code": PAIRS[0]["java"]}, reference="x"), Item("new", {"code": "y"}, reference="z")]}
    record = json.loads(json.dumps(bench_record(items, adapter)))
    assert record["provenance"]["status"] == "known" and record["contamination"]["status"] == "contaminated"
    assert record["contamination"]["tasks"]["t"]["clean_ids"] == ["new"]
    remote = bench_record(items, Path("org/some-hub-adapter"))
    assert remote["provenance"]["status"] == "unknown"
    assert "not a folder on this machine" in remote["provenance"]["reason"]
    assert remote["contamination"]["status"] == "unknown" and remote["contamination"]["tasks"]["t"]["clean_ids"] is None
