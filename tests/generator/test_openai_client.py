"""Unit tests of the openai engine's HTTP glue (retries, backoff, Retry-After, concurrency, error
mapping, stream assembly) on httpx's MockTransport: failures a real server cannot be made to
produce on demand. The real server paths are in test_openai_engine.py (vLLM, slow)."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from codeeval.generator.engine import Sampling
from codeeval.generator.openai_engine import OpenAIEngine
from codeeval.kit.errors import DeadlineExceeded, FailedPrecondition, NotFound, Unauthenticated, Unavailable
from codeeval.kit.openai_http import OpenAIClient

URL = "http://llm.test/v1"


def _sse(*chunks: dict) -> bytes:  # type: ignore[type-arg]
    return b"".join(f"data: {json.dumps(c)}\n\n".encode() for c in chunks) + b"data: [DONE]\n\n"


def _client(handler, **kw) -> OpenAIClient:  # type: ignore[no-untyped-def]
    return OpenAIClient(URL, backoff_s=0.0, transport=httpx.MockTransport(handler), **kw)


async def test_retries_429_and_5xx_then_succeeds_and_assembles_the_stream() -> None:
    calls: list[dict] = []  # type: ignore[type-arg]

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(json.loads(request.content))
        if len(calls) == 1:
            return httpx.Response(429, headers={"retry-after": "0"}, json={"error": {"message": "slow down"}})
        if len(calls) == 2:
            return httpx.Response(503, text="overloaded")
        return httpx.Response(200, content=_sse(
            {"choices": [{"text": "def f", "finish_reason": None}]},
            {"choices": [{"text": "(): pass", "finish_reason": "stop"}]},
            {"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 4}}))

    client = _client(handler, retries=2)
    c = await client.stream("/completions", {"model": "m", "prompt": "p"}, "model 'm'")
    assert (c.text, c.prompt_tokens, c.completion_tokens, c.finish_reason) == ("def f(): pass", 7, 4, "stop")
    assert len(calls) == 3 and calls[-1]["stream"] is True and calls[-1]["stream_options"] == {"include_usage": True}


async def test_retries_are_bounded_and_errors_are_typed() -> None:
    attempts = 0

    def down(request: httpx.Request) -> httpx.Response:
        nonlocal attempts
        attempts += 1
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(Unavailable, match=r"http://llm\.test/v1 is unreachable"):
        await _client(down, retries=2).get_json("/models", "the model list")
    assert attempts == 3

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(DeadlineExceeded, match="openai_timeout_s"):
        await _client(slow, retries=0).get_json("/models", "the model list")

    def refused(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Bearer k-123"
        return httpx.Response(401, json={"error": {"message": "Unauthorized"}})

    with pytest.raises(Unauthenticated) as info:
        await _client(refused, api_key="k-123", key_env="MY_KEY").get_json("/models", "the model list")
    assert "$MY_KEY" in str(info.value) and "k-123" not in str(info.value)

    def missing(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"error": {"message": "The model `x` does not exist."}})

    with pytest.raises(NotFound, match="model 'x' is not served"):
        await _client(missing).stream("/completions", {"model": "x"}, "model 'x'")


async def test_concurrency_is_limited() -> None:
    in_flight = peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return httpx.Response(200, content=_sse({"choices": [{"text": "x", "finish_reason": "length"}]}))

    client = _client(handler, concurrency=2)
    await asyncio.gather(*[client.stream("/completions", {}, "m") for _ in range(6)])
    assert peak == 2


async def test_engine_start_checks_the_model_and_load_adapter_needs_the_runtime_api() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/models"):
            return httpx.Response(200, json={"data": [{"id": "base", "max_model_len": 512}]})
        return httpx.Response(404, json={"detail": "Not Found"})

    def engine(model: str) -> OpenAIEngine:
        e = OpenAIEngine(URL, model=model, backoff_s=0.0)
        e.client = _client(handler)
        return e

    with pytest.raises(NotFound, match=r"model 'nope' is not served by http://llm\.test/v1 \(it serves base\)"):
        await engine("nope").start()
    e = engine("")
    info = await e.start()
    assert info.model == "base" and info.max_model_len == 512 and e.server_side_chat
    with pytest.raises(FailedPrecondition, match="load_lora_adapter"):
        await e.add_adapter("a", "/adapters/a")
    with pytest.raises(NotFound):
        await e.generate("p", Sampling(max_tokens=2), None)


async def test_unreachable_endpoint_is_unavailable_naming_the_url() -> None:
    """A real connection to a closed port (no mock): retried, then UNAVAILABLE with the URL."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    engine = OpenAIEngine(f"http://127.0.0.1:{port}/v1", retries=1, backoff_s=0.0)
    with pytest.raises(Unavailable, match=rf"server http://127\.0\.0\.1:{port}/v1 is unreachable"):
        await engine.start()
    await engine.stop()
