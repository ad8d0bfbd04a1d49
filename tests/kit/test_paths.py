"""The one rule for where the shared datasets are."""

from pathlib import Path

import pytest

from codeeval.kit import paths


def _checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    module = tmp_path / "main" / "src" / "codeeval" / "kit" / "paths.py"
    module.parent.mkdir(parents=True)
    monkeypatch.setattr(paths, "__file__", str(module))
    monkeypatch.delenv(paths.ENV, raising=False)
    return tmp_path


def test_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (_checkout(tmp_path, monkeypatch) / "shared" / "datasets").mkdir(parents=True)
    monkeypatch.setenv(paths.ENV, str(tmp_path / "elsewhere"))
    assert paths.datasets_dir() == tmp_path / "elsewhere"


def test_shared_beside_the_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (_checkout(tmp_path, monkeypatch) / "shared" / "datasets").mkdir(parents=True)
    assert paths.datasets_dir() == tmp_path / "shared" / "datasets"


def test_no_absolute_fallback_when_nothing_is_beside_the_checkout(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    _checkout(tmp_path, monkeypatch)
    assert paths.datasets_dir() == tmp_path / "shared" / "datasets"
    assert not paths.datasets_dir().exists()
