"""An injected SANDBOX_ERROR leaves pass@k unchanged and is reported, in ``codeeval bench`` and in
``codeeval exec`` (both use codeeval.stats.passk.aggregate). The sandbox is the in-process fake of
bench_fakes.py, which answers SANDBOX_ERROR for a program containing INFRA; the same aggregation
runs on real verdicts in test_golden.py and tests/sandbox/test_cli.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from golden import SUITE, golden_samples

from codeeval.cli.main import main

HE = [{"task_id": f"HumanEval/{i}", "prompt": f"def f{i}(x):\n", "canonical_solution": "    return x\n",
       "test": "def check(c):\n    assert c(1) == 1\n", "entry_point": f"f{i}"} for i in range(3)]


def _jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _python_samples(infra: bool) -> list[dict]:
    """The golden codegen-python samples, each item answered twice (FAIL marks a failure for the fake
    sandbox); with ``infra``, a third answer per item that ends in a sandbox error."""
    out = []
    for s in golden_samples():
        if s["task"] != "codegen-python":
            continue
        out += [s, {**s, "solution": s["solution"] + "# FAIL\n"}]
        if infra:
            out.append({**s, "solution": s["solution"] + "# INFRA\n"})
    return out


def test_bench_sandbox_error_leaves_pass_at_k_unchanged_and_is_reported(fake_services, tmp_path):
    results = {}
    for infra in (False, True):
        samples = _jsonl(tmp_path / f"s{infra}.jsonl", _python_samples(infra))
        out = tmp_path / f"out{infra}"
        assert main(["bench", "--suite", str(SUITE), "--samples", str(samples), "--tasks", "codegen-python",
                     "--out", str(out)]) == 0
        results[infra] = json.loads((out / "base/results.json").read_text())["tasks"]["codegen-python"]
    clean, injected = results[False], results[True]
    assert injected["pass_at_k"] == clean["pass_at_k"]
    assert clean["pass_at_k"]["1"]["mean"] == pytest.approx(0.5)  # per item: the answer passes, its FAIL twin not
    assert injected["infra_errors"] == 8 and clean["infra_errors"] == 0
    assert injected["outcomes"]["SANDBOX_ERROR"] == 8
    for item, inst in injected["instances"].items():
        assert (inst["n"], inst["c"], inst["infra_errors"]) == (2, clean["instances"][item]["c"], 1)
    assert injected["compile"]["checked"] == clean["compile"]["checked"]


def test_exec_sandbox_error_leaves_pass_at_k_unchanged_and_is_reported(fake_services, tmp_path, capsys):
    problems = _jsonl(tmp_path / "he.jsonl", HE)
    base = [{"task_id": p["task_id"], "completion": c}
            for p in HE for c in ("    return x\n", "    return 0  # FAIL\n")]
    summaries = {}
    for infra in (False, True):
        extra = [{"task_id": p["task_id"], "completion": "    return x  # INFRA\n"} for p in HE] if infra else []
        samples = _jsonl(tmp_path / f"s{infra}.jsonl", base + extra)
        out = tmp_path / f"out{infra}"
        assert main(["exec", "--problems", str(problems), "--samples", str(samples), "--out", str(out),
                     "--k", "1,2"]) == 0
        summaries[infra] = json.loads((out / "summary.json").read_text())
    assert summaries[True]["pass_at_k"] == summaries[False]["pass_at_k"]
    assert summaries[False]["pass_at_k"]["pass@1"]["value"] == pytest.approx(0.5)
    assert summaries[True]["infra_errors"] == 3 and summaries[True]["status_counts"]["SANDBOX_ERROR"] == 3
    assert "3 infrastructure errors" in capsys.readouterr().err
    lines = [json.loads(x) for x in (tmp_path / "outTrue/results.jsonl").read_text().splitlines()]
    assert sum(r["status"] == "SANDBOX_ERROR" and not r["passed"] for r in lines) == 3
