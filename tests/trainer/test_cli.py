"""`codeeval train` / `codeeval jobs` argument handling (no service needed for these paths), and
`codeeval train --list` through a real local trainer (the CLI imports no trainer module)."""

from __future__ import annotations

from pathlib import Path

import pytest

from codeeval.cli.main import build_parser, main


@pytest.mark.slow
@pytest.mark.integration
def test_train_list_shows_shipped_configs(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    monkeypatch.delenv("CODEEVAL_TRAINER_ADDR", raising=False)
    monkeypatch.setenv("CODEEVAL_TRAINER_STATE_DIR", str(tmp_path / "state"))
    assert main(["train", "--list"]) == 0
    out = capsys.readouterr().out
    assert "smollm2-multitask-qlora-cpu" in out and "qwen2.5-coder-3b-multitask-full" in out


def test_train_needs_config_and_key_value_overrides(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train"]) == 2
    assert main(["train", "--config", "x", "--set", "novalue"]) == 2
    assert "expected KEY=VALUE" in capsys.readouterr().err


def test_jobs_subcommands_parse() -> None:
    parser = build_parser()
    assert parser.parse_args(["jobs", "watch", "abc"]).id == "abc"
    assert parser.parse_args(["jobs", "list", "--state", "running"]).state == "running"
    with pytest.raises(SystemExit):
        parser.parse_args(["jobs", "list", "--state", "bogus"])
