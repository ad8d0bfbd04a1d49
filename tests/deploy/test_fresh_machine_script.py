"""scripts/ci-fresh-machine.sh (a CI stage; ~6 min on a quiet 2-core machine): it parses, documents its
options, refuses an unknown one, and .ci/run runs it as a newcomer would, with nothing cached."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "ci-fresh-machine.sh"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=60, check=False)


def test_script_parses_and_documents_its_options():
    assert subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True, timeout=60).returncode == 0
    usage = _run("--help")
    assert usage.returncode == 0
    for option in ("--with-test", "--rebuild", "--keep", "--log FILE", "--cache DIR", "--no-cache"):
        assert option in usage.stdout, option


def test_unknown_option_exits_2_naming_it():
    result = _run("--frobnicate")
    assert result.returncode == 2 and "unknown argument --frobnicate" in result.stderr


def test_ci_runs_it_with_nothing_cached():
    """A stage of .ci/run runs it with empty download caches and a freshly built image."""
    ci = (ROOT / ".ci" / "run").read_text()
    stages = [line.split() for line in ci.splitlines() if line.startswith("stage ")]
    runs = [stage for stage in stages if "scripts/ci-fresh-machine.sh" in stage]
    assert len(runs) == 1, runs
    assert "--no-cache" in runs[0] and "--rebuild" in runs[0]
