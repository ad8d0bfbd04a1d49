"""Bad input on every RPC of the real four services (reliability.fuzz, short profile): every answer is
OK or a specific status naming a field, nothing hangs or crashes, each service is still SERVING, its
RSS is within 5% and its open fds and processes are exactly as after the warm-up. Starts the services
on loopback (the generator on the default model with the engine this machine has)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reliability import fuzz
from reliability.context import Context
from reliability.report import PROFILES

pytestmark = [pytest.mark.reliability, pytest.mark.slow, pytest.mark.integration]


@pytest.mark.timeout(900)
def test_every_rpc_of_the_four_services_holds_under_bad_input(tmp_path: Path, monkeypatch):
    for name in ("sandbox", "analyzer", "generator", "trainer"):
        monkeypatch.delenv(f"CODEEVAL_{name.upper()}_ADDR", raising=False)
    sections = fuzz.run(Context(PROFILES["short"], tmp_path))
    assert sorted(s.service for s in sections) == ["analyzer", "generator", "sandbox", "trainer"]
    for s in sections:
        print(f"{s.service}: {s.rows}\n  {s.notes}")
    bad = {s.service: s.problems for s in sections if not s.ok}
    assert not bad, bad
    for s in sections:
        assert s.area == "bad-input" and s.lost == 0
        assert all(row["requests"] > 0 for row in s.rows), s.rows
        assert any("OK" in row["statuses"] for row in s.rows) and any(
            "INVALID_ARGUMENT" in row["statuses"] for row in s.rows), s.rows
