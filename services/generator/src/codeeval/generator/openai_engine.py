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
* Retries: connection errors, timeouts, 429 and 5xx are retried up to ``retries`` times with
  exponential backoff (``backoff_s`` * 2^attempt, or the server's Retry-After when shorter than
  30 s); at most ``concurrency`` requests are in flight; each request has ``timeout_s``.
* Errors: unreachable -> UNAVAILABLE naming the URL; unknown model or adapter -> NOT_FOUND naming it;
  a key refused (401/403) -> UNAUTHENTICATED naming the environment variable (the key itself is
  never logged); other 4xx -> INVALID_ARGUMENT with the server's message; a timeout after the
  retries -> DEADLINE_EXCEEDED naming the setting.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import httpx

from codeeval.generator.engine import BaseModelInfo, Completion, Engine, Sampling
from codeeval.generator.settings import GeneratorSettings
from codeeval.kit.errors import (
    CodeevalError,
    DeadlineExceeded,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    Unauthenticated,
    Unavailable,
)

log = logging.getLogger("codeeval.generator")
RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})


class _Retryable(Exception):
    def __init__(self, error: CodeevalError, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


def _server_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    err = body.get("error", body) if isinstance(body, dict) else body
    msg = err.get("message", err) if isinstance(err, dict) else err
    return str(msg)[:300]


class OpenAIClient:
    """The HTTP side: one httpx client, bounded retries, concurrency and typed errors. Also used
    by the bench's endpoint client; ``key_env`` names the environment variable the key came from."""

    def __init__(self, url: str, *, api_key: str = "", key_env: str = "", timeout_s: float = 120.0,
                 retries: int = 3, backoff_s: float = 0.5, concurrency: int = 8,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.url = url.rstrip("/")
        self.key_env = key_env
        self.retries = retries
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.AsyncClient(base_url=self.url, headers=headers, timeout=timeout_s, transport=transport)
        self._slots = asyncio.Semaphore(concurrency)

    async def close(self) -> None:
        await self._http.aclose()

    def _error(self, response: httpx.Response, what: str) -> CodeevalError:
        msg = _server_message(response)
        code = response.status_code
        if code in (401, 403):
            src = f"the key from ${self.key_env}" if self.key_env else "no API key"
            return Unauthenticated(f"{self.url} refused {src} (HTTP {code}: {msg})", field="openai_api_key_env")
        if code == 404:
            return NotFound(f"{what} is not served by {self.url} (HTTP 404: {msg})", field="model")
        return InvalidArgument(f"{self.url} rejected the request for {what} (HTTP {code}: {msg})", field="request")

    def _timeout(self, path: str, exc: Exception) -> DeadlineExceeded:
        return DeadlineExceeded(f"{self.url}{path} did not answer within openai_timeout_s {self.timeout_s} s "
                                f"({type(exc).__name__})", field="openai_timeout_s")

    def _unreachable(self, exc: Exception) -> Unavailable:
        return Unavailable(f"OpenAI-compatible server {self.url} is unreachable ({type(exc).__name__}: {exc})",
                           field="openai_url")

    async def _send(self, method: str, path: str, body: dict[str, Any] | None, what: str,
                    stream: bool) -> httpx.Response:
        """The first successful response (a streaming one still open: the caller closes it),
        retrying as documented; the last failure's typed error when the retries are spent."""
        for attempt in range(self.retries + 1):
            try:
                response = await self._http.send(self._http.build_request(method, path, json=body), stream=stream)
                if response.status_code < 400:
                    return response
                await response.aread()
                await response.aclose()
                if response.status_code not in RETRY_STATUS:
                    raise self._error(response, what)
                after = response.headers.get("retry-after", "")
                error = _Retryable(Unavailable(f"{self.url}{path} answered HTTP {response.status_code}: "
                                               f"{_server_message(response)}", field="openai_url"),
                                   float(after) if after.isdigit() and int(after) < 30 else None)
            except httpx.TimeoutException as exc:
                error = _Retryable(self._timeout(path, exc))
            except httpx.TransportError as exc:
                error = _Retryable(self._unreachable(exc))
            if attempt == self.retries:
                raise error.error
            delay = error.retry_after if error.retry_after is not None else self.backoff_s * 2**attempt
            log.info("retrying OpenAI request", extra={"fields": {"url": f"{self.url}{path}", "attempt": attempt + 1,
                                                                  "delay_s": delay, "error": str(error.error)}})
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def get_json(self, path: str, what: str) -> Any:
        async with self._slots:
            response = await self._send("GET", path, None, what, stream=False)
            return response.json()

    async def post_json(self, path: str, body: dict[str, Any], what: str) -> str:
        async with self._slots:
            response = await self._send("POST", path, body, what, stream=False)
            return response.text

    async def stream(self, path: str, body: dict[str, Any], what: str) -> Completion:
        """POST ``body`` with ``stream: true`` and assemble the server-sent events into one sample.
        A failure after the stream began is not retried (the server may have spent the tokens)."""
        body = {**body, "stream": True, "stream_options": {"include_usage": True}}
        async with self._slots:
            response = await self._send("POST", path, body, what, stream=True)
            try:
                return await _assemble(response)
            except httpx.TimeoutException as exc:
                raise self._timeout(path, exc) from None
            except httpx.TransportError as exc:
                raise self._unreachable(exc) from None
            finally:
                await response.aclose()


async def _assemble(response: httpx.Response) -> Completion:
    parts: list[str] = []
    finish = "length"
    usage: dict[str, Any] = {}
    async for line in response.aiter_lines():
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            break
        chunk = json.loads(data)
        if chunk.get("error"):
            raise InvalidArgument(f"the server failed mid-stream: {chunk['error']}", field="request")
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            parts.append(choice.get("text") or delta.get("content") or "")
            if choice.get("finish_reason"):
                finish = choice["finish_reason"]
        usage = chunk.get("usage") or usage
    text = "".join(parts)
    reason: Literal["stop", "length"] = "length" if finish == "length" else "stop"
    return Completion(text=text, prompt_tokens=int(usage.get("prompt_tokens") or 0),
                      completion_tokens=int(usage.get("completion_tokens") or 0), finish_reason=reason)


def sampling_body(sampling: Sampling) -> dict[str, Any]:
    body: dict[str, Any] = {"max_tokens": sampling.max_tokens, "temperature": sampling.temperature,
                            "top_p": sampling.top_p, "seed": sampling.seed, "n": 1}
    if sampling.stop:
        body["stop"] = list(sampling.stop)
    return body


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
        body = {"model": adapter or self.model, "prompt": prompt, **sampling_body(sampling)}
        return await self.client.stream("/completions", body, self._what(adapter))

    async def generate_chat(self, messages: Sequence[dict[str, str]], sampling: Sampling,
                            adapter: str | None) -> Completion:
        body = {"model": adapter or self.model, "messages": [dict(m) for m in messages], **sampling_body(sampling)}
        return await self.client.stream("/chat/completions", body, self._what(adapter))


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
