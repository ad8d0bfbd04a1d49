"""The CLI against a running generator (tiny model) through CODEEVAL_GENERATOR_ADDR."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from codeeval.cli.main import main


async def _cli(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


async def test_generate_and_adapters(generator, tiny_adapters, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CODEEVAL_GENERATOR_ADDR", f"127.0.0.1:{generator.port}")
    assert await _cli("adapters", "load", "alpha", str(tiny_adapters["alpha"])) == 0
    assert "loaded alpha: rank 4" in capsys.readouterr().out
    assert await _cli("adapters", "list", "--json") == 0
    assert [a["name"] for a in json.loads(capsys.readouterr().out)] == ["alpha"]
    assert await _cli("generate", "--prompt", "hi", "--adapter", "alpha", "--max-tokens", "3", "--json") == 0
    row = json.loads(capsys.readouterr().out.splitlines()[0])
    assert row["adapter"] == "alpha" and row["template"] == "smollm2" and row["completion_tokens"] <= 3
    assert await _cli("adapters", "unload", "alpha") == 0
    capsys.readouterr()
    assert await _cli("generate", "--prompt", "hi", "--adapter", "alpha") == 1
    assert "NOT_FOUND" in capsys.readouterr().err


def test_model_prepare_reuses_a_prepared_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "smollm2-135m-instruct"
    folder.mkdir()
    (folder / "codeeval_model.json").write_text(json.dumps({"weights_sha256": "ab" * 32}))
    assert main(["model", "prepare", "--cache-dir", str(tmp_path)]) == 0
    assert "ab" * 32 in capsys.readouterr().out
