"""``${datasets}`` is expanded in one place (codeeval.kit.paths.expand), so suites and trainer configs
resolve a data path alike."""

from __future__ import annotations

import sysconfig
from pathlib import Path

import pytest

from codeeval.kit.paths import expand
from codeeval.suites import resolve_path
from codeeval.trainer.recipe_schema import expand_path


def test_suites_and_trainer_expand_alike(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CODEEVAL_DATASETS_DIR", str(tmp_path / "ds"))
    monkeypatch.setenv("SPLIT", "valid")
    text = "${datasets}/codexglue_code_to_code_trans/$SPLIT.java-cs.txt"
    want = tmp_path / "ds" / "codexglue_code_to_code_trans" / "valid.java-cs.txt"
    assert expand(text) == resolve_path(text, Path("/elsewhere")) == expand_path(text) == want
    assert expand_path(text, str(tmp_path / "other")) == tmp_path / "other" / want.relative_to(tmp_path / "ds")


def test_relative_paths_stdlib_and_home(tmp_path: Path):
    assert expand("default/x.yaml", tmp_path) == tmp_path / "default" / "x.yaml"
    assert expand("default/x.yaml") == Path("default/x.yaml")
    assert expand("${stdlib}/json") == Path(sysconfig.get_paths()["stdlib"]) / "json"
    assert expand("~/d", tmp_path) == Path.home() / "d"
