"""openai engine: forwards generation to any OpenAI-compatible server (vLLM's OpenAI server, TGI,
SGLang, llama.cpp's server, a hosted API) over HTTP with httpx.

* Prompts rendered here (a registry template, raw text, or the model's own template when a local
  tokenizer is configured) go to ``/completions``; with no local tokenizer the model's own template
  is the server's: messages go to ``/chat/completions`` (the core records template ``server``).
* Every call streams (``stream: true``, usage requested in the last chunk) and asks for one sample:
  the core fans ``n`` out as n calls with seeds seed..seed+n-1, so a sample does not depend on n
  (as with the other engines). ``seed``, ``stop``, ``temperature``, ``top_p``, ``max_tokens`` pass
  through.
* An adapter is addressed as the model name, the way vLLM serves LoRA adapters. LoadAdapter
  forwards to ``/load_lora_adapter`` (vLLM with ``VLLM_ALLOW_RUNTIME_LORA_UPDATING=True`` and
  ``--enable-lora``); a server without it -> FAILED_PRECONDITION saying so. The adapter path is the
  path the SERVER sees.
* Retries, timeouts, the concurrency limit and the error mapping are those of
  :mod:`codeeval.kit.openai_http` (UNAVAILABLE naming the URL, NOT_FOUND naming the model or
  adapter, UNAUTHENTICATED naming the key's environment variable, ...).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from codeeval.generator.engine import BaseModelInfo, Completion, Engine, Sampling
from codeeval.generator.settings import GeneratorSettings
from codeeval.kit.errors import FailedPrecondition, InvalidArgument, NotFound
from codeeval.kit.openai_http import OpenAIClient, sampling_body


def _body(s: Sampling) -> dict[str, Any]:
    return sampling_body(max_tokens=s.max_tokens, temperature=s.temperature, top_p=s.top_p, seed=s.seed, stop=s.stop)


class OpenAIEngine(Engine):
    """See the module docstring. ``tokenizer_path``: a local tokenizer folder (or hub id) of the
    served model; empty: the server applies the model's own chat template."""

    adapters_on_server = True

    def __init__(self, url: str, *, model: str = "", api_key: str = "", key_env: str = "", tokenizer_path: str = "",
                 timeout_s: float = 120.0, retries: int = 3, backoff_s: float = 0.5, concurrency: int = 8,
                 max_model_len: int = 2048, max_lora_rank: int = 64, max_adapters: int = 16) -> None:
        if not url.startswith(("http://", "https://")):
            raise InvalidArgument(f"{url!r} is not an http(s) URL", field="openai_url")
        self.client = OpenAIClient(url, api_key=api_key, key_env=key_env, timeout_s=timeout_s, retries=retries,
                                   backoff_s=backoff_s, concurrency=concurrency)
        self.model = model
        self.tokenizer_path = tokenizer_path
        self.max_model_len = max_model_len
        self.max_lora_rank = max_lora_rank
        self.max_adapters = max_adapters
        self._tokenizer: Any = None

    async def start(self) -> BaseModelInfo:
        """One GET /models (the model must be listed) and, if configured, the local tokenizer."""
        listed = await self.client.get_json("/models", "the model list")
        rows = listed.get("data") if isinstance(listed, dict) else None
        models = {str(m.get("id")): m for m in (rows or []) if isinstance(m, dict)}
        if not self.model:
            if not models:
                raise FailedPrecondition(f"{self.client.url}/models lists no model", field="openai_model")
            self.model = next(iter(models))
        if self.model not in models:
            raise NotFound(f"model {self.model!r} is not served by {self.client.url} (it serves "
                           f"{', '.join(sorted(map(str, models))) or 'nothing'})", field="openai_model")
        if self.tokenizer_path:
            from transformers import AutoTokenizer

            self._tokenizer = await asyncio.to_thread(AutoTokenizer.from_pretrained, self.tokenizer_path)
        max_len = int(models[self.model].get("max_model_len") or self.max_model_len)
        return BaseModelInfo(
            engine="openai", engine_version=f"openai-compatible server at {self.client.url}", model=self.model,
            model_path=str(models[self.model].get("root") or self.model), model_sha256="", dtype="server",
            max_model_len=max_len, max_loras=self.max_adapters, max_lora_rank=self.max_lora_rank,
            max_adapters=self.max_adapters)

    async def stop(self) -> None:
        await self.client.close()

    def tokenizer(self) -> Any | None:
        return self._tokenizer

    @property
    def server_side_chat(self) -> bool:
        return self._tokenizer is None

    def count_tokens(self, text: str) -> int:
        """Exact with a local tokenizer; 0 without one (the server enforces its context length and
        its refusal comes back as INVALID_ARGUMENT)."""
        return len(self._tokenizer.encode(text, add_special_tokens=False)) if self._tokenizer is not None else 0

    async def resolve_adapter(self, path: str) -> str:
        local = Path(path).expanduser()
        return str(local) if local.exists() else path

    async def add_adapter(self, name: str, path: str) -> None:
        try:
            await self.client.post_json("/load_lora_adapter", {"lora_name": name, "lora_path": path},
                                        f"adapter {name!r}")
        except NotFound:
            raise FailedPrecondition(
                f"{self.client.url} cannot load adapters at runtime (no /load_lora_adapter): start vLLM with "
                "--enable-lora and VLLM_ALLOW_RUNTIME_LORA_UPDATING=True, or serve the adapter with --lora-modules",
                field="path") from None
        except InvalidArgument as exc:
            raise FailedPrecondition(f"the server refused adapter {name!r} from {path}: {exc}", field="path") from None

    async def remove_adapter(self, name: str) -> None:
        await self.client.post_json("/unload_lora_adapter", {"lora_name": name}, f"adapter {name!r}")

    def _what(self, adapter: str | None) -> str:
        return f"adapter {adapter!r}" if adapter else f"model {self.model!r}"

    async def generate(self, prompt: str, sampling: Sampling, adapter: str | None) -> Completion:
        body = {"model": adapter or self.model, "prompt": prompt, **_body(sampling)}
        return Completion(**(await self.client.stream("/completions", body, self._what(adapter))).__dict__)

    async def generate_chat(self, messages: Sequence[dict[str, str]], sampling: Sampling,
                            adapter: str | None) -> Completion:
        body = {"model": adapter or self.model, "messages": [dict(m) for m in messages], **_body(sampling)}
        return Completion(**(await self.client.stream("/chat/completions", body, self._what(adapter))).__dict__)


def engine_from_settings(settings: GeneratorSettings) -> OpenAIEngine:
    """The engine for ``settings.engine == "openai"``; the key is read from the environment variable
    ``openai_api_key_env`` names."""
    if not settings.openai_url:
        raise FailedPrecondition("engine openai needs openai_url (CODEEVAL_GENERATOR_OPENAI_URL)", field="openai_url")
    return OpenAIEngine(
        settings.openai_url, model=settings.openai_model, api_key=os.environ.get(settings.openai_api_key_env, ""),
        key_env=settings.openai_api_key_env, tokenizer_path=settings.openai_tokenizer,
        timeout_s=settings.openai_timeout_s, retries=settings.openai_retries, backoff_s=settings.openai_backoff_s,
        concurrency=settings.openai_concurrency, max_model_len=settings.max_model_len,
        max_lora_rank=settings.max_lora_rank, max_adapters=settings.max_cpu_loras)
