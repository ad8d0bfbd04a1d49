"""An HTTP client of OpenAI-compatible servers (vLLM's OpenAI server, TGI, SGLang, llama.cpp's
server, a hosted API), shared by the generator's openai engine and the bench's ``--endpoint`` client.

Retries: connection errors, timeouts, HTTP 408/429/5xx are retried up to ``retries`` times with
exponential backoff (``backoff_s`` * 2^attempt, or the server's Retry-After when under 30 s); at
most ``concurrency`` requests are in flight; each has ``timeout_s``. A failure after a stream began
is not retried. Errors (codeeval.kit.errors, mapped to gRPC codes by the services): unreachable ->
UNAVAILABLE naming the URL; 404 (unknown model or adapter) -> NOT_FOUND naming it; 401/403 ->
UNAUTHENTICATED naming the environment variable the key came from (the key is never logged or put
in a message); other 4xx -> INVALID_ARGUMENT with the server's message; timeouts after the retries
-> DEADLINE_EXCEEDED naming the setting.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from codeeval.kit.errors import (
    CodeevalError,
    DeadlineExceeded,
    InvalidArgument,
    NotFound,
    Unauthenticated,
    Unavailable,
)

log = logging.getLogger("codeeval.openai")


@dataclass(frozen=True)
class Answer:
    """One sample as the server returned it."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: Literal["stop", "length"]


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

    async def stream(self, path: str, body: dict[str, Any], what: str) -> Answer:
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


async def _assemble(response: httpx.Response) -> Answer:
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
    return Answer(text=text, prompt_tokens=int(usage.get("prompt_tokens") or 0),
                      completion_tokens=int(usage.get("completion_tokens") or 0), finish_reason=reason)


def sampling_body(*, max_tokens: int, temperature: float, top_p: float, seed: int,
                  stop: tuple[str, ...] | list[str] = ()) -> dict[str, Any]:
    """The sampling fields of a request for ONE sample (callers fan ``n`` out with seeds seed+i)."""
    body: dict[str, Any] = {"max_tokens": max_tokens, "temperature": temperature, "top_p": top_p or 1.0,
                            "seed": seed, "n": 1}
    if stop:
        body["stop"] = list(stop)
    return body
