"""Real services whose start-up self-check fails for good: the CLI command that started the local
service exits 2 within seconds (not after its start timeout) with the reason and the service's log
path, and no traceback; the main job says which service it waits for and why while it waits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from codeeval.cli import mainjob
from codeeval.kit import client
from codeeval.kit.client import LocalService
from codeeval.kit.startup import ServiceStartError

SERVICES = ("sandbox", "analyzer", "generator", "trainer")


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not (k.startswith("CODEEVAL_") and k.endswith("_ADDR"))}
    return {**env, "CODEEVAL_LOG_DIR": str(tmp_path / "state"), **extra}


def _cli(args: list[str], env: dict[str, str]) -> tuple[int, str, float]:
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "codeeval.cli", *args], capture_output=True, text=True,
                          env=env, timeout=600, check=False)
    return proc.returncode, proc.stdout + proc.stderr, time.monotonic() - t0


@pytest.mark.integration
def test_analyze_with_pmd_missing_exits_2_with_reason_and_log(tmp_path: Path):
    src = tmp_path / "a.py"
    src.write_text("x = 1\n")
    missing = tmp_path / "no-pmd"
    rc, out, took = _cli(["analyze", str(src)], _env(tmp_path, CODEEVAL_ANALYZER_PMD_HOME=str(missing)))
    log = tmp_path / "state" / "analyzer.log"
    assert rc == 2, out
    assert "analyzer service failed to start" in out and "no pmd-java jar" in out and str(missing) in out, out
    assert str(log) in out and "Traceback" not in out, out
    assert "no pmd-java jar" in log.read_text()
    print(f"analyze failed its start in {took:.1f}s")


@pytest.mark.integration
@pytest.mark.skipif(os.geteuid() != 0, reason="the workspace reachability check applies when the sandbox runs as root")
def test_exec_with_an_unreachable_workspace_exits_2_with_reason_and_log(tmp_path: Path):
    problems = tmp_path / "he.jsonl"
    problems.write_text(json.dumps({"task_id": "HumanEval/0", "prompt": "def f(x):\n",
                                    "canonical_solution": "    return x\n", "entry_point": "f",
                                    "test": "def check(c):\n    assert c(1) == 1\n"}) + "\n")
    locked = tmp_path / "locked"
    (locked / "ws").mkdir(parents=True)
    locked.chmod(0o700)  # as a 0700 home: the sandbox uids cannot traverse it
    out_dir = tmp_path / "out"
    rc, out, took = _cli(["exec", "--problems", str(problems), "--canonical", "--out", str(out_dir)],
                         _env(tmp_path, CODEEVAL_SANDBOX_WORKSPACE_DIR=str(locked / "ws")))
    assert rc == 2, out
    assert "sandbox service failed to start" in out and "is not searchable by the sandbox uids" in out, out
    assert str(out_dir / "sandbox.log") in out and "Traceback" not in out, out
    print(f"exec failed its start in {took:.1f}s")


@pytest.mark.integration
def test_main_job_fails_at_once_naming_the_service_and_its_log(tmp_path: Path, monkeypatch):
    for name in SERVICES:
        monkeypatch.delenv(client.address_env(name), raising=False)
    monkeypatch.setenv("CODEEVAL_SANDBOX_ADDR", "127.0.0.1:1")  # only the analyzer is started
    monkeypatch.setenv("CODEEVAL_ANALYZER_PMD_HOME", str(tmp_path / "no-pmd"))
    started: list[LocalService] = []
    try:
        with pytest.raises(ServiceStartError) as info:
            mainjob.start_services(tmp_path / "logs", 600, started)
    finally:
        for svc in started:
            svc.stop()
    assert info.value.service == "analyzer" and info.value.log_file == tmp_path / "logs" / "analyzer.log"
    assert "no pmd-java jar" in info.value.reason


@pytest.mark.integration
@pytest.mark.slow
def test_main_job_says_which_service_it_waits_for_and_why(tmp_path: Path, monkeypatch, capsys):
    for name in SERVICES:
        monkeypatch.delenv(client.address_env(name), raising=False)
    for name in ("sandbox", "generator", "trainer"):  # only the analyzer is started: its probe starts a JVM
        monkeypatch.setenv(client.address_env(name), "127.0.0.1:1")
    monkeypatch.setattr(client, "REPORT_EVERY_S", 0.5)
    started: list[LocalService] = []
    try:
        mainjob.start_services(tmp_path / "logs", 600, started)
    finally:
        for svc in started:
            svc.stop()
    err = capsys.readouterr().err
    assert "waiting for analyzer (" in err and "NOT_SERVING" in err, err
    assert "analyzer: SERVING at 127.0.0.1:" in err and str(tmp_path / "logs" / "analyzer.log") in err, err
