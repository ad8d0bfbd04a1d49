"""The bench records what an adapter saw (issue 19): each adapter variant's results.json has its
provenance and the contamination check of the suite's items against its recorded training data
(with the clean subset's ids); the base model has neither (its training data are not ours to know).
A planted contamination goes end to end: found exactly, the clean-subset numbers computed on the
right items, and the report's headline note saying where the adapter's gain comes from."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest
import yaml

from codeeval.cli.main import main
from codeeval.contamination.subset import subset_metrics
from codeeval.pipeline.comparison import compare_results
from codeeval.pipeline.contamination_view import headline_notes, sections


def test_an_adapter_variant_records_provenance_and_contamination(fake_services, tmp_path: Path) -> None:
    data = [{"id": f"s{i}", "code": f"def f{i}(x):\n    return x + {i}\n", "reference": f"Add {i} to x."}
            for i in range(6)]
    (tmp_path / "items.yaml").write_text(yaml.safe_dump(data))
    suite = {"name": "planted", "version": "1", "tasks": [{
        "name": "summ", "kind": "summarization", "language": "python", "reader": "codeeval_yaml",
        "path": "items.yaml", "task_prompt": "summarize-python", "metrics": ["bleu"]}]}
    (tmp_path / "planted.yaml").write_text(yaml.safe_dump(suite))
    train = tmp_path / "train.jsonl"
    train.write_text("".join(json.dumps({"code": d["code"], "summary": "a summary"}) + "\n" for d in data[:2]))
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    source = {"reader": "jsonl", "path": str(train), "fields": {"code": "code"}, "target": "summary"}
    (adapter / "codeeval_adapter.json").write_text(json.dumps({
        "method": "lora", "base_model": "default", "seed": 0,
        "mixture": [{"task": "summ", "available": 2, "effective": 2, "proportion": 1.0}],
        "config": {"data": {"tasks": [{"name": "summ", "source": source}]}}}))
    out = tmp_path / "out"
    assert main(["bench", "--suite", str(tmp_path / "planted.yaml"), "--out", str(out),
                 "--adapter", f"tuned={adapter}"]) in (0, 3)
    tuned = json.loads((out / "tuned/results.json").read_text())
    assert tuned["provenance"]["status"] == "known" and tuned["provenance"]["mixture"][0]["effective"] == 2
    summ = tuned["contamination"]["tasks"]["summ"]
    assert tuned["contamination"]["status"] == "contaminated"
    assert summ["contaminated"]["prompt"]["ids"] == ["s0", "s1"]
    assert summ["clean_ids"] == ["s2", "s3", "s4", "s5"]
    base = json.loads((out / "base/results.json").read_text())
    assert "contamination" not in base and "provenance" not in base


VOCAB = [f"{a}{b}" for a in ("get", "set", "load", "save", "parse", "emit", "scan", "join", "pack", "sort")
         for b in ("item", "node", "path", "text", "size", "rate", "mode", "flag", "list", "key")]


def _words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(VOCAB) for _ in range(n))


def _paraphrase(text: str) -> str:
    """Every 6th word (the check's ``\\w+`` words) renamed: no 13-word window of ``text`` survives."""
    count = iter(range(10**6))
    return re.sub(r"\w+", lambda m: m.group() + "_v2" if next(count) % 6 == 0 else m.group(), text)


def test_a_planted_contamination_end_to_end(fake_services, tmp_path: Path) -> None:
    rng = random.Random(19)
    items = [{"id": f"s{i:02}", "code": f"def f{i}(x):\n    return {_words(rng, 24)}\n",
              "reference": _words(rng, 15)} for i in range(16)]
    items[11]["code"] = "def nop(): pass"     # a short prompt (3 words): exact match only
    items[12]["reference"] = "Does nothing."   # a short reference, not planted
    (tmp_path / "items.yaml").write_text(yaml.safe_dump(items))
    suite = {"name": "planted", "version": "1", "tasks": [{
        "name": "summ", "kind": "summarization", "language": "python", "reader": "codeeval_yaml",
        "path": "items.yaml", "task_prompt": "summarize-python", "metrics": ["bleu"]}]}
    (tmp_path / "planted.yaml").write_text(yaml.safe_dump(suite))
    train = [{"code": items[i]["code"], "summary": _words(rng, 10)} for i in (0, 1, 2, 3, 4, 5, 11)]  # prompts
    train += [{"code": _words(rng, 20), "summary": items[i]["reference"]} for i in (6, 7)]       # references
    train += [{"code": _paraphrase(items[i]["code"]), "summary": _paraphrase(items[i]["reference"])}
              for i in (8, 9, 10)]                                                              # below threshold
    train += [{"code": _words(rng, 30), "summary": _words(rng, 12)} for _ in range(20)]          # unrelated
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in train))
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    source = {"reader": "jsonl", "path": str(tmp_path / "train.jsonl"), "fields": {"code": "code"},
              "target": "summary"}
    (adapter / "codeeval_adapter.json").write_text(json.dumps({
        "method": "lora", "base_model": "default", "seed": 0,
        "mixture": [{"task": "summ", "available": 32, "effective": 32, "proportion": 1.0}],
        "config": {"data": {"tasks": [{"name": "summ", "source": source}]}}}))
    # the adapter answers right exactly on the items it was trained on (s11 excepted); the base on none
    fake_services.generator.answers = {}
    fake_services.generator.adapter_answers = {f"summ/s{i:02}": items[i]["reference"] for i in range(8)}
    out = tmp_path / "out"
    assert main(["bench", "--suite", str(tmp_path / "planted.yaml"), "--out", str(out),
                 "--adapter", f"tuned={adapter}"]) in (0, 3)
    results = {v: json.loads((out / v / "results.json").read_text()) for v in ("base", "tuned")}

    found = results["tuned"]["contamination"]["tasks"]["summ"]
    assert found["contaminated"]["prompt"]["ids"] == ["s00", "s01", "s02", "s03", "s04", "s05", "s11"]
    assert found["contaminated"]["reference"]["ids"] == ["s06", "s07"]
    assert found["clean_ids"] == ["s08", "s09", "s10", "s12", "s13", "s14", "s15"]
    assert found["short"] == {"prompt": ["s11"], "reference": ["s12"]}
    assert found["matches"]["s11"]["prompt"]["kind"] == "exact"

    tuned = results["tuned"]["tasks"]["summ"]
    full = subset_metrics(tuned)["metrics"]["bleu"]
    assert {k: full[k] for k in ("mean", "ci", "n")} == {k: tuned["metrics"]["bleu"][k] for k in ("mean", "ci", "n")}
    assert full["mean"] == pytest.approx(8 / 16)
    clean = subset_metrics(tuned, found["clean_ids"])["metrics"]["bleu"]
    assert (clean["mean"], clean["n"]) == (0.0, 7)

    cmp = compare_results(results["base"], results["tuned"], label_a="base", label_b="tuned")
    assert cmp["improvements"] == ["summ bleu"]
    assert headline_notes(results, [cmp]) == {"summ": (
        "tuned's gain over base on summ (bleu +0.500) comes from 9 contaminated items: on the 7 clean items "
        "the difference is +0.000 [+0.000, +0.000]")}
    shown = {s.title: s.markdown for s in sections(results, [cmp])}
    assert "| summ | contaminated | 16 | 7 | 2 | s00, s01, s02, s03, s04, s05, s06, s07, s11 | 1 / 1 | 7 |" in \
        shown["Contamination"]
    assert "| tuned | clean for tuned | 7 | 0.000 [0.000, 0.000] (n=7) |" in shown["Clean-subset metrics"]
    # and the bench's report shows them: the note in the headline, the sections beside the scores
    report = (out / "report.md").read_text()
    assert headline_notes(results, [cmp])["summ"] in report
    assert all(f"## {title}" in report for title in shown)
