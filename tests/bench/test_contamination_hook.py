"""The bench records what an adapter saw (issue 19): each adapter variant's results.json has its
provenance and the contamination check of the suite's items against its recorded training data
(with the clean subset's ids); the base model has neither (its training data are not ours to know)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from codeeval.cli.main import main


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
