"""The transformers engine's batch encoding cannot be unpadded by a token count from another thread:
a fast tokenizer keeps its padding setting in its Rust backend, and count_tokens (the event loop's
thread) used to reset it in the middle of the worker thread's padded batch, which then failed with
ragged rows (INTERNAL; found by the reliability load figure). The interleaving is forced here: the
count runs inside the batch's encoding."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from codeeval.generator.engine import Sampling
from codeeval.generator.hf_engine import TransformersEngine, _Pending


class _CountsInside:
    """A tokenizer backend that runs ``engine.count_tokens`` just before each batch encoding."""

    def __init__(self, backend: Any, engine: TransformersEngine) -> None:
        self._backend, self._engine, self._inside = backend, engine, False

    def encode_batch(self, *args: Any, **kwargs: Any) -> Any:
        if not self._inside:  # the count itself encodes (through this same backend before the fix)
            self._inside = True
            try:
                self._engine.count_tokens("a count from another thread")
            finally:
                self._inside = False
        return self._backend.encode_batch(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)


def test_a_token_count_inside_a_batch_encoding_leaves_it_padded(tiny_model: Path) -> None:
    engine = TransformersEngine(str(tiny_model), model_name="tiny", model_sha256="", dtype="float32")
    engine._load()
    engine._batch_tok._tokenizer = _CountsInside(engine._batch_tok._tokenizer, engine)
    sampling = Sampling(max_tokens=2)
    no_future: Any = None  # _generate_batch does not touch the waiters' futures
    batch = [_Pending(prompt, sampling, None, no_future) for prompt in ("short", "a much longer prompt than the first")]
    out = engine._generate_batch(batch)
    assert len(out) == 2
