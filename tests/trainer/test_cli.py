"""`codeeval train` / `codeeval jobs` argument handling (no service needed for these paths)."""

from __future__ import annotations

import pytest

from codeeval.cli.main import build_parser, main


def test_train_list_shows_shipped_configs(capsys: pytest.CaptureFixture[str]) -> None:
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
