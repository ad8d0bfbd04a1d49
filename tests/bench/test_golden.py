"""No behaviour lost: the default suite (frozen in fixtures/golden_suite) scored from the fixed
samples of golden.py through ``codeeval bench --samples``, with the real sandbox and analyzer, gives
the per-item records captured before the typed-records refactor (captured through a generator that
returned the samples, which the extraction of that time gave back unchanged). Generation and the
extraction of model answers are left out: they change on purpose elsewhere, and CPU generation is
not bit-reproducible."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from golden import RECORDS, SUITE, golden_samples, per_item_records

from codeeval.cli.main import main

pytestmark = [pytest.mark.slow, pytest.mark.integration,
              pytest.mark.skipif(shutil.which("bwrap") is None, reason="the real sandbox needs bubblewrap")]


def test_golden_samples_are_the_recorded_ones():
    recorded = [json.loads(line) for line in (RECORDS.parent / "golden_samples.jsonl").read_text().splitlines()]
    assert recorded == golden_samples()


def test_samples_file_gives_the_golden_records_without_a_generator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    for svc in ("sandbox", "analyzer"):
        monkeypatch.delenv(f"CODEEVAL_{svc.upper()}_ADDR", raising=False)
    monkeypatch.setenv("CODEEVAL_GENERATOR_ADDR", "127.0.0.1:1")  # never contacted: nothing listens there
    samples = RECORDS.parent / "golden_samples.jsonl"
    assert main(["bench", "--suite", str(SUITE), "--samples", str(samples), "--out", str(tmp_path / "out")]) == 0
    assert per_item_records(tmp_path / "out" / "base") == json.loads(RECORDS.read_text())
