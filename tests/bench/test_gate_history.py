"""The gate plans with the baseline's whole run: the discordance between the baseline's variants (base and
the last accepted adapter) decides whether a metric can gate; the candidate never plans its own gate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codeeval.cli.main import main
from codeeval.pipeline.comparison import load_history

SCHEMA = "codeeval.pipeline.results/v1"
N = 164


def _variant(folder: Path, passed: list[bool], suite_sha: str = "0" * 64) -> Path:
    doc = {"schema": SCHEMA, "suite": {"name": "ci", "version": "1", "sha256": suite_sha}, "tasks": {
        "humaneval": {"instances": {f"i{k}": {"n": 1, "c": int(p), "passed": [p]} for k, p in enumerate(passed)}}}}
    folder.mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps(doc))
    return folder


def _half() -> list[bool]:
    return [k % 2 == 0 for k in range(N)]


def _close_to(passed: list[bool], changed: int) -> list[bool]:
    """``passed`` with the first ``changed`` items flipped both ways (same pass rate, discordance changed/N)."""
    out = list(passed)
    for k in range(changed):
        out[k] = not out[k]
    return out


def _gate(tmp_path: Path, capsys: pytest.CaptureFixture[str], baseline: Path, candidate: Path) -> tuple[int, dict]:
    rc = main(["compare", str(baseline), str(candidate), "--max-drop", "pass@1=0.05",
               "--json", str(tmp_path / "gate.json"), "--out", str(tmp_path / "report")])
    capsys.readouterr()
    return rc, json.loads((tmp_path / "gate.json").read_text())


def test_a_baseline_run_with_close_variants_lets_pass_at_1_gate(tmp_path, capsys):
    prev = tmp_path / "prev"
    _variant(prev / "base", _close_to(_half(), 8))
    accepted = _variant(prev / "adapter", _half())
    candidate = _variant(tmp_path / "new" / "adapter", _half())
    rc, gate = _gate(tmp_path, capsys, accepted, candidate)
    row = next(p for p in gate["power"] if p["metric"] == "pass@1")
    assert gate["history"] == 2 and row["gating"], row
    assert rc == 0 and gate["verdict"] in ("no regression", "improved")


def test_a_lone_baseline_plans_for_independent_runs_and_cannot_gate(tmp_path, capsys):
    accepted = _variant(tmp_path / "solo" / "adapter", _half())
    candidate = _variant(tmp_path / "new" / "adapter", _half())
    rc, gate = _gate(tmp_path, capsys, accepted, candidate)
    row = next(p for p in gate["power"] if p["metric"] == "pass@1")
    assert gate["history"] == 1 and not row["gating"], row
    assert rc == 3


def test_the_candidate_and_other_suites_never_enter_the_plan(tmp_path, capsys):
    run = tmp_path / "run"
    base = _variant(run / "base", _half())
    _variant(run / "other-suite", _close_to(_half(), 2), suite_sha="1" * 64)
    candidate = _variant(run / "adapter", _close_to(_half(), 2))
    assert len(load_history(base)) == 2  # the candidate's folder is a sibling too when not excluded
    assert len(load_history(base, exclude=[candidate])) == 1
    _, gate = _gate(tmp_path, capsys, base, candidate)
    assert gate["history"] == 1
