"""The CI check of backend_coverage.py: with CODEEVAL_REQUIRE_BACKENDS set, a session fails when a
listed backend ran no reward-hacking or conformance case (skipped, deselected or absent), and
passes when each ran one. On a tiny stand-in suite run by pytester in-process (fast), and on one
real reward-hacking case against the real bubblewrap sandbox in a pytest subprocess (slow)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, requires_bwrap

pytest_plugins = ["pytester"]
HERE = Path(__file__).parent
STAND_IN = '''import pytest

@pytest.fixture(params=["bubblewrap", "unshare", pytest.param("docker", marks=pytest.mark.docker)])
def backend_engine(request):
    if request.param == "unshare":
        pytest.skip("no jail on this machine")
    return request.param

def test_case(backend_engine):
    assert backend_engine

def test_without_backend():
    pass
'''


def run_pytest(args: list[str], cwd: Path, required: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CODEEVAL_REQUIRE_BACKENDS"}
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
    if required is not None:
        env["CODEEVAL_REQUIRE_BACKENDS"] = required
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture
def stand_in(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.delenv("CODEEVAL_REQUIRE_BACKENDS", raising=False)
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\nmarkers =\n    docker: needs docker\n")
    pytester.makeconftest("from backend_coverage import pytest_runtest_makereport, pytest_sessionfinish  # noqa\n")
    pytester.makepyfile(test_reward_hacking_standin=STAND_IN, test_other_suite=STAND_IN)  # the 2nd is not counted
    return pytester


def run_inline(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, required: str | None,
               *args: str) -> tuple[int, str]:
    if required is not None:
        monkeypatch.setenv("CODEEVAL_REQUIRE_BACKENDS", required)
    out = pytester.runpytest("-p", "no:cacheprovider", *args)
    return int(out.ret), out.stdout.str()


def test_unset_changes_nothing(stand_in: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    code, text = run_inline(stand_in, monkeypatch, None)
    assert code == 0, text[-2000:]
    assert "CODEEVAL_REQUIRE_BACKENDS" not in text


def test_every_listed_backend_ran_passes(stand_in: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    code, text = run_inline(stand_in, monkeypatch, "bubblewrap, docker")
    assert code == 0, text[-2000:]
    assert "every required backend ran cases (bubblewrap: 1, docker: 1)" in text


def test_skipped_backend_fails_the_session(stand_in: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    code, text = run_inline(stand_in, monkeypatch, "bubblewrap,unshare")
    assert code == 1, text[-2000:]
    assert "no reward-hacking or conformance case ran on unshare (cases run per backend: bubblewrap: 1, " \
           "unshare: 0)" in text


def test_deselected_or_unknown_backend_fails_the_session(stand_in: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    code, text = run_inline(stand_in, monkeypatch, "bubblewrap,docker,gvisor", "-m", "not docker")
    assert code == 1, text[-2000:]
    assert "ran on docker, gvisor" in text


def test_cases_of_other_modules_do_not_count(stand_in: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    code, text = run_inline(stand_in, monkeypatch, "bubblewrap", "test_other_suite.py")
    assert code == 1, text[-2000:]
    assert "ran on bubblewrap" in text


@pytest.mark.slow
@requires_bwrap
def test_real_suite_on_bubblewrap_counts():
    """One real Python reward-hacking case on bubblewrap: it counts for bubblewrap, not for unshare."""
    selection = ["tests/sandbox/test_reward_hacking_python.py::test_reward_hack_fails", "-k", "bubblewrap and exit",
                 "-q"]
    ok = run_pytest(selection, ROOT, "bubblewrap")
    assert ok.returncode == 0, ok.stdout[-3000:]
    assert "every required backend ran cases (bubblewrap: " in ok.stdout
    missing = run_pytest(selection, ROOT, "bubblewrap,unshare")
    assert missing.returncode == 1, missing.stdout[-3000:]
    assert "no reward-hacking or conformance case ran on unshare" in missing.stdout
