"""The engine interface the generation core depends on. The servicer never sees an engine, and
engine-specific request types (vLLM's ``LoRARequest``, ``SamplingParams``) stay in the engine modules.

An engine serves one base model plus LoRA adapters registered under names. One call of
:meth:`Engine.generate` produces ONE sample for ONE already-rendered prompt; the core fans out
prompts x n samples as concurrent calls, which the engine batches as it can (continuous batching
in vLLM, micro-batches in transformers).
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal


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

    #: Adapter paths are read by a remote server, not by this process (openai engine): a path that
    #: is not a local folder is forwarded unvalidated.
    adapters_on_server: bool = False

    def tokenizer(self) -> Any | None:
        """The served model's tokenizer (its ``chat_template`` is the model's own template), or None
        when the engine has no local tokenizer (a remote server)."""
        return None

    @property
    def server_side_chat(self) -> bool:
        """True when the model's own template is applied by the engine itself (a remote chat endpoint):
        the core then sends messages through :meth:`generate_chat` instead of rendered text."""
        return False

    async def generate_chat(self, messages: Sequence[dict[str, str]], sampling: Sampling,
                            adapter: str | None) -> Completion:
        """One sample for ``messages`` rendered by the engine's own template (only engines whose
        :attr:`server_side_chat` is True)."""
        raise NotImplementedError(f"{type(self).__name__} renders no chat itself")

    async def resolve_adapter(self, path: str) -> str:
        """The adapter location the engine will load, resolved where the engine runs: the default
        is a local folder (see :func:`codeeval.generator.adapters.resolve_adapter_path`)."""
        from codeeval.generator.adapters import resolve_adapter_path

        return str(await resolve_adapter_path(path))


def trim_at_stop(text: str, stop: tuple[str, ...]) -> tuple[str, bool]:
    """Cut ``text`` at the earliest stop sequence; (text, whether one was found)."""
    cut = min((i for i in (text.find(s) for s in stop if s) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)
