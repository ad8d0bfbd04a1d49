"""scripts/ci-fresh-machine.sh, which CI's last stage runs: it parses, documents its options, refuses an
unknown one, and .ci/run runs it. (The run itself, 20-50 min, is CI's and is measured there.)"""

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


def test_ci_runs_it_as_a_timed_stage():
    stages = [line.split() for line in (ROOT / ".ci" / "run").read_text().splitlines() if line.startswith("stage ")]
    assert ["stage", "fresh-machine", "bash", "scripts/ci-fresh-machine.sh"] in stages
