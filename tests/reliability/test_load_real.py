"""The load area's short profile (CI's) against the real sandbox, analyzer and generator on loopback:
every figure holds and nothing is lost. The generator runs the transformers engine here (the short
profile's choice) on the default model with the two marker adapters (trained once per machine and
cached: the first run on a fresh machine pays a minute or two more)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from reliability import load
from reliability.context import Context
from reliability.report import PROFILES

pytestmark = [pytest.mark.reliability, pytest.mark.slow, pytest.mark.integration]


@pytest.mark.timeout(900)
def test_short_load_profile_holds(tmp_path: Path) -> None:
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap not installed: the sandbox's default backend cannot run")
    ctx = Context(profile=PROFILES["short"], workdir=tmp_path)
    sections = load.run(ctx)
    assert [s.service for s in sections] == ["sandbox", "analyzer", "generator"]
    assert all(s.area == "load" and s.rows for s in sections)
    broken = [f"{s.service}: lost {s.lost}; problems: {s.problems}; notes: {s.notes}" for s in sections if not s.ok]
    assert not broken, "\n".join(broken)
    sandbox, analyzer, generator = sections
    assert sandbox.rows[-1]["runs"] > 0 and sandbox.rows[0]["wrong verdicts"] == 0
    assert next(r for r in analyzer.rows if r["call"] == "mixed")["calls"] > 0
    assert sum(r["completed"] for r in generator.rows) > 0
