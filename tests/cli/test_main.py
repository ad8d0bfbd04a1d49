"""The codeeval entry point: --version, exit codes in --help, did-you-mean, input errors without tracebacks."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

import codeeval.cli.main as cli_main
from codeeval.cli.main import EPILOG, ExitCode, gate_exit_code, main, version_string
from codeeval.stats.gate import Verdict


def test_version_names_the_package_version_and_the_checkout():
    out = subprocess.run([sys.executable, "-m", "codeeval.cli", "--version"], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == version_string()
    assert out.startswith(f"codeeval {metadata.version('codeeval')}")
    checkout = Path(cli_main.__file__).resolve().parents[3]
    git = subprocess.run(["git", "-C", str(checkout), "describe", "--always", "--tags"], capture_output=True,
                         text=True, check=False)
    if (checkout / ".git").exists() and git.returncode == 0:  # running from a checkout: the commit is named
        assert f"(git {git.stdout.strip()}" in out


def test_help_lists_every_exit_code(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "exit codes:" in out
    for code in ExitCode:
        assert f"\n  {int(code):<4}" in out, code
    assert EPILOG.splitlines()[0] in out


def test_gate_verdicts_map_to_distinct_exit_codes():
    assert gate_exit_code(Verdict.IMPROVED) == gate_exit_code(Verdict.NO_REGRESSION) == ExitCode.OK == 0
    assert gate_exit_code(Verdict.REGRESSION) == ExitCode.REGRESSION == 1
    assert gate_exit_code(Verdict.INCONCLUSIVE) == ExitCode.INCONCLUSIVE == 3
    assert gate_exit_code(Verdict.INCONCLUSIVE, allow_inconclusive=True) == 0
    assert gate_exit_code(Verdict.REGRESSION, allow_inconclusive=True) == 1
    assert len({ExitCode.OK, ExitCode.REGRESSION, ExitCode.USAGE, ExitCode.INCONCLUSIVE,
                ExitCode.SERVICE_FAILED}) == 5


@pytest.mark.parametrize(("argv", "hint"), [(["bech"], "did you mean 'bench'?"),
                                            (["suites", "valdate"], "did you mean 'validate'?"),
                                            (["comapre", "a", "b"], "did you mean 'compare'?")])
def test_typos_get_a_suggestion_and_exit_2(argv, hint, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == ExitCode.USAGE
    assert hint in capsys.readouterr().err


def test_unknown_command_lists_the_known_ones(capsys):
    with pytest.raises(SystemExit):
        main(["zzzzzz"])
    err = capsys.readouterr().err
    assert "known:" in err and "bench" in err and "suites" in err


def test_a_missing_input_file_is_one_line_and_exit_2(tmp_path, capsys):
    missing = tmp_path / "nope.txt"
    assert main(["score", "--hyp", str(missing), "--ref", str(missing), "--language", "java"]) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert str(missing) in err and "Traceback" not in err


def test_a_file_that_is_not_text_is_one_line_and_exit_2(tmp_path, capsys):
    binary = tmp_path / "hyp.txt"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    rc = main(["score", "--hyp", str(binary), "--ref", str(binary), "--language", "java"])
    assert rc == ExitCode.USAGE
    err = capsys.readouterr().err
    assert "UTF-8" in err and "Traceback" not in err
