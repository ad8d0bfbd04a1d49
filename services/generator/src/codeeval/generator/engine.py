"""The engine interface the generation core depends on. The servicer never sees an engine, and
engine-specific request types (vLLM's ``LoRARequest``, ``SamplingParams``) stay in the engine modules.

An engine serves one base model plus LoRA adapters registered under names. One call of
:meth:`Engine.generate` produces ONE sample for ONE already-rendered prompt; the core fans out
prompts x n samples as concurrent calls, which the engine batches as it can (continuous batching
in vLLM, micro-batches in transformers).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class Sampling:
    """Sampling for one sample. ``temperature == 0`` is greedy; ``seed`` makes sampling repeatable."""

    max_tokens: int
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    stop: tuple[str, ...] = ()


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: Literal["stop", "length"]


@dataclass(frozen=True)
class BaseModelInfo:
    """What the registry validates adapters against and what GetCapabilities reports."""

    engine: str
    engine_version: str
    model: str
    model_path: str
    model_sha256: str
    dtype: str
    max_model_len: int
    max_loras: int
    max_lora_rank: int
    max_adapters: int
    # Full names of the base model's Linear modules ("model.layers.0.self_attn.q_proj", ...).
    linear_modules: frozenset[str] = field(default_factory=frozenset)


class Engine(abc.ABC):
    """One base model with named LoRA adapters. Implementations must be safe to call concurrently
    from one asyncio loop; slow work runs off the loop."""

    @abc.abstractmethod
    async def start(self) -> BaseModelInfo:
        """Load the base model (minutes for vLLM on CPU, seconds for transformers)."""

    @abc.abstractmethod
    async def stop(self) -> None: ...

    @abc.abstractmethod
    async def add_adapter(self, name: str, path: str) -> None:
        """Make the (already validated) PEFT folder at ``path`` usable as ``name``."""

    @abc.abstractmethod
    async def remove_adapter(self, name: str) -> None:
        """Forget ``name``; the caller guarantees no generation with it is in flight."""

    @abc.abstractmethod
    async def generate(self, prompt: str, sampling: Sampling, adapter: str | None) -> Completion:
        """One sample for ``prompt`` (already rendered) with adapter ``name`` or the base model."""

    @abc.abstractmethod
    def count_tokens(self, text: str) -> int: ...


def trim_at_stop(text: str, stop: tuple[str, ...]) -> tuple[str, bool]:
    """Cut ``text`` at the earliest stop sequence; (text, whether one was found)."""
    cut = min((i for i in (text.find(s) for s in stop if s) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)
