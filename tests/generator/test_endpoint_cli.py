"""``codeeval bench --endpoint``: usage errors exit 2 before any service starts, and an unreachable
endpoint exits 4 (a service failure) naming the URL, after real connection attempts."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from codeeval.cli.main import ExitCode, main


def test_endpoint_needs_a_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--endpoint", "http://127.0.0.1:9/v1", "--out", str(tmp_path / "r")]) == 2
    assert "--endpoint needs --model" in capsys.readouterr().err


def test_unreachable_endpoint_is_a_service_failure_naming_the_url(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    code = main(["bench", "--suite", "ci", "--endpoint", url, "--model", "m", "--limit", "1",
                 "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == ExitCode.SERVICE_FAILED, err
    assert f"{url} is unreachable" in err.replace("\n", "")
