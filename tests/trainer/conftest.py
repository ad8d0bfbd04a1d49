"""Fixtures: a tiny random Llama (codeeval.models.tiny_llama) and a miniature copy of the shared
dataset layout written into a temp folder, so fast tests never depend on a datasets folder."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

JAVA = [f"public int get{i}() {{ return value{i} + {i}; }}" for i in range(40)]
CS = [f"public int Get{i}() {{ return Value{i} + {i}; }}" for i in range(40)]


def write_mini_datasets(root: Path) -> Path:
    trans = root / "codexglue_code_to_code_trans"
    trans.mkdir(parents=True, exist_ok=True)
    for split in ("train", "valid", "test"):
        (trans / f"{split}.java-cs.txt.java").write_text("\n".join(JAVA) + "\n")
        (trans / f"{split}.java-cs.txt.cs").write_text("\n".join(CS) + "\n")
    concode = root / "codexglue_concode"
    concode.mkdir(exist_ok=True)
    with open(concode / "dev.json", "w") as fh:
        for i in range(30):
            fh.write(json.dumps({"nl": f"returns the value {i} concode_field_sep int value{i}",
                                 "code": f"int function ( ) {{ return value{i} ; }}"}) + "\n")
    return root


@pytest.fixture(scope="session")
def mini_datasets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_mini_datasets(tmp_path_factory.mktemp("datasets"))


@pytest.fixture(autouse=True)
def _datasets_env(mini_datasets: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEEVAL_DATASETS_DIR", str(mini_datasets))


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny randomly initialised Llama with a tokenizer (CODEEVAL_TINY_MODEL_DIR reuses a built one)."""
    prebuilt = os.environ.get("CODEEVAL_TINY_MODEL_DIR")
    if prebuilt:
        return Path(prebuilt)
    models = pytest.importorskip("codeeval.models")
    path = tmp_path_factory.mktemp("tiny-llama")
    models.tiny_llama(path)
    return path
