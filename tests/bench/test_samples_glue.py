"""``codeeval bench --samples``: the generator is never asked, a samples file's errors name the file,
the record and the field (exit 2), and a run folder made from another samples file is refused. The
sandbox and analyzer are the in-process fakes (glue); test_golden.py and test_mbpp_shapes.py run
the same path against the real services."""

from __future__ import annotations

import json
from pathlib import Path

from golden import SUITE

from codeeval.cli.main import main


def _samples(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_samples_are_scored_without_the_generator(fake_services, tmp_path):
    samples = _samples(tmp_path / "s.jsonl", [{"task_id": "py-chunks", "solution": "def chunks(x, n):\n    return x\n"},
                                              {"task_id": "py-chunks", "completion": "# FAIL\n"}])
    out = tmp_path / "out"
    assert main(["bench", "--suite", str(SUITE), "--samples", str(samples), "--tasks", "codegen-python",
                 "--out", str(out)]) == 0
    assert fake_services.generator.sent == 0
    task = json.loads((out / "base/results.json").read_text())["tasks"]["codegen-python"]
    assert task["instances"]["py-chunks"] == {"n": 2, "c": 1, "passed": [True, False], "compiled": [True, True],
                                              "outcomes": [[0, "PASSED"], [1, "FAILED"]]}
    assert task["samples"] == 2 and task["generation"]["origin"] == ["samples"]
    receipt = json.loads((out / "base/receipt.json").read_text())
    assert receipt["model"]["base_model_sha256"].startswith("samples:")
    other = _samples(tmp_path / "other.jsonl", [{"task_id": "py-chunks", "solution": "x = 1\n"}])
    assert main(["bench", "--suite", str(SUITE), "--samples", str(other), "--tasks", "codegen-python",
                 "--out", str(out)]) == 2


def test_samples_file_errors_name_file_record_and_field(fake_services, tmp_path, capsys):
    cases = [([{"task_id": "nope", "solution": ""}], "record 1: task_id 'nope' is not an item of any task"),
             ([{"task_id": "py-chunks"}], "record 1: needs 'completion' or 'solution'"),
             ([{"task_id": "py-chunks", "solution": 3}], "record 1: 'solution' must be a string"),
             ([{"task": "codegen-jaba", "task_id": "py-chunks", "solution": ""}],
              "record 1: task 'codegen-jaba' is not a task of this run")]
    for i, (records, message) in enumerate(cases):
        samples = _samples(tmp_path / f"s{i}.jsonl", records)
        assert main(["bench", "--suite", str(SUITE), "--samples", str(samples), "--out", str(tmp_path / f"o{i}")]) == 2
        err = capsys.readouterr().err
        assert str(samples) in err.replace("\n", "") and message in err.replace("\n", ""), err
    assert main(["bench", "--suite", str(SUITE), "--samples", str(tmp_path / "missing.jsonl"),
                 "--out", str(tmp_path / "o")]) == 2
    assert "--samples" in capsys.readouterr().err
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    assert main(["bench", "--suite", str(SUITE), "--samples", str(tmp_path / "s0.jsonl"), "--adapter",
                 f"a={adapter}", "--out", str(tmp_path / "o")]) == 2
    assert "drop --adapter" in capsys.readouterr().err
    assert fake_services.generator.sent == 0
