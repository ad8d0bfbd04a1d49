"""The report on the real sandbox's and analyzer's output: two `codeeval bench --samples` runs of the
golden suite's Python generation task (golden.py's fixed samples as the baseline; the candidate with
the passing references broken by a planted exception and one failing answer fixed), then
`codeeval compare`, whose report must show the real flips: both sides' code, the real outcome and
the tail of the real traceback, and a headline that matches compare's exit code. The same paths on
fake services are in test_report_views.py."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from golden import SUITE, golden_samples

from codeeval.cli.main import main
from codeeval.kit.client import LocalService, address_env
from codeeval.suites import load_suite, read_items

pytestmark = [pytest.mark.slow, pytest.mark.integration,
              pytest.mark.skipif(shutil.which("bwrap") is None, reason="the real sandbox needs bubblewrap")]

TASK = "codegen-python"
PLANT = "\nraise ValueError('planted regression')\n"


def _samples(path: Path, candidate: bool) -> Path:
    """golden.py's samples of TASK (per item in turn: prose, the reference, a broken reference); the
    candidate's references raise at import (pass->fail) and its first prose answer is the reference
    (fail->pass)."""
    rows = [s for s in golden_samples() if s["task"] == TASK]
    if candidate:
        loaded = load_suite(SUITE)
        items = read_items(loaded.suite.task(TASK), loaded.base_dir)  # the frozen suite's items
        for i, s in enumerate(rows):
            if i % 3 == 1:
                s["solution"] += PLANT
        rows[0]["solution"] = items[0].reference
    path.write_text("".join(json.dumps(s) + "\n" for s in rows))
    return path


def _suite(path: Path) -> Path:
    """The golden suite's TASK alone, scored by pass@1 only (the real sandbox; no analyzer to start)."""
    loaded = load_suite(SUITE)
    doc = yaml.safe_load(loaded.text)
    task = next(t for t in doc["tasks"] if t["name"] == TASK)
    doc["tasks"] = [{**task, "path": str(loaded.base_dir / task["path"]), "metrics": ["pass@1"]}]
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """One real sandbox for both bench runs (or the one in the environment); the generator is never contacted."""
    started = None
    if not os.environ.get(address_env("sandbox")):
        started = LocalService("sandbox", log_file=tmp_path / "sandbox.log")
        monkeypatch.setenv(address_env("sandbox"), started.start(timeout=600))
    monkeypatch.setenv(address_env("generator"), "127.0.0.1:1")
    yield
    if started is not None:
        started.stop()


def test_compare_report_shows_real_flips_with_code_outcome_and_traceback(tmp_path: Path, sandbox, capsys):
    suite = _suite(tmp_path / "suite.yaml")
    for name, candidate in (("baseline", False), ("candidate", True)):
        samples = _samples(tmp_path / f"{name}.jsonl", candidate)
        assert main(["bench", "--suite", str(suite), "--samples", str(samples), "--out", str(tmp_path / name)]) == 0
    capsys.readouterr()
    rc = main(["compare", str(tmp_path / "baseline" / "base"), str(tmp_path / "candidate" / "base"),
               "--out", str(tmp_path / "report")])
    printed = capsys.readouterr().out
    flat = " ".join(printed.split())  # however the console wrapped the verdict line
    md = (tmp_path / "report" / "report.md").read_text()
    assert f"report: {(tmp_path / 'report' / 'report.html').resolve()}" in printed
    # 8 items cannot gate a 10-point drop: compare says inconclusive (3), and so does the headline
    assert rc == 3 and f"candidate/base vs {tmp_path}/baseline/base: INCONCLUSIVE (" in flat
    assert "**INCONCLUSIVE**" in md and f"| {TASK} | inconclusive | not gating" in md
    flipped = md.split("## Flipped items")[1].split("\n## ")[0]
    baseline = json.loads((tmp_path / "baseline" / "base" / "results.json").read_text())
    passed = sum(i["c"] for i in baseline["tasks"][TASK]["instances"].values())
    assert passed >= 2 and f"{TASK}: {passed + 1} items changed" in flipped
    assert flipped.count(": pass->fail (") == passed and flipped.count(": fail->pass (") == 1
    block = flipped.split(": pass->fail (")[1].split("\n#### ")[0]
    assert "PASSED; " in block and "RUNTIME_ERROR)" in block
    assert "raise ValueError('planted regression')" in block  # the candidate's extracted program
    assert "stderr (tail):" in block and "ValueError: planted regression" in block  # the real traceback
    outcomes = md.split("## Outcomes and truncations")[1].split("\n## ")[0]
    assert "RUNTIME_ERROR" in outcomes and "not recorded (samples file)" in outcomes
    html = (tmp_path / "report" / "report.html").read_text()
    assert "ValueError: planted regression" in html and html.count("<svg") >= 2  # pass@k bars, the gate's differences
