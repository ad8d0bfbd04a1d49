"""The bench's generator when it points straight at an OpenAI-compatible endpoint
(``codeeval bench --endpoint URL --model NAME``): no generator service is started. It has the
interface of :class:`~codeeval.clients.generator.GeneratorClient` (capabilities, generate, complete,
load_adapter) and answers in the generator's messages, so the bench cannot tell them apart.

Templates: a prompt with no template goes to ``/chat/completions`` and the server applies the
model's own template (recorded as template ``server``, the prompt hash over the messages as
canonical JSON); a registry template is rendered here and sent to ``/completions``. Samples: ``n``
samples of a prompt are n requests with seeds seed..seed+n-1. Adapters are model names on the
server; ``load_adapter`` forwards to vLLM's ``/load_lora_adapter`` (the path is the server's).
Errors are :class:`~codeeval.clients.base.ServiceError` for service "endpoint", naming the URL.
Cost: one HTTP request per sample, ``concurrency`` at once.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from codeeval.api.generator.v1 import generator_pb2
from codeeval.clients.base import ServiceError
from codeeval.clients.generator import GeneratorClient, PromptToGenerate, Sampling
from codeeval.kit.errors import CodeevalError
from codeeval.kit.openai_http import Answer, OpenAIClient, sampling_body
from codeeval.prompts import get_template, text_sha256
from codeeval.records import Sample

T = TypeVar("T")
SERVER_TEMPLATE = "server"
_FINISH = {"stop": generator_pb2.FINISH_REASON_STOP, "length": generator_pb2.FINISH_REASON_LENGTH}


class OpenAIEndpointClient(GeneratorClient):
    """A generator client that talks HTTP to ``url`` (base URL including ``/v1``) for ``model``;
    the API key comes from the environment variable ``key_env`` (unset: no key)."""

    service = "endpoint"

    def __init__(self, url: str, model: str, *, key_env: str = "OPENAI_API_KEY", timeout_s: float = 300.0,
                 retries: int = 3, concurrency: int = 8) -> None:
        super().__init__(address=url, wait_s=0.0)
        if not url.startswith(("http://", "https://")):
            raise ServiceError(self.service, f"--endpoint {url!r} is not an http(s) URL")
        if not model:
            raise ServiceError(self.service, "--endpoint needs --model, the model's name on the server")
        self.url, self.model, self.key_env = url.rstrip("/"), model, key_env
        self._options = {"api_key": os.environ.get(key_env, ""), "key_env": key_env, "timeout_s": timeout_s,
                         "retries": retries, "concurrency": concurrency}
        self._endpoint_caps: generator_pb2.GetCapabilitiesResponse | None = None

    def close(self) -> None:
        """Nothing stays open between calls (each call runs its own HTTP client)."""

    @property
    def contacted(self) -> bool:
        return self._endpoint_caps is not None

    def _run(self, work: Callable[[OpenAIClient], Awaitable[T]]) -> T:
        async def main() -> T:
            client = OpenAIClient(self.url, **self._options)  # type: ignore[arg-type]
            try:
                return await work(client)
            finally:
                await client.close()

        try:
            return asyncio.run(main())
        except CodeevalError as exc:
            raise ServiceError(self.service, f"{self.url}: {exc}") from None

    def capabilities(self) -> generator_pb2.GetCapabilitiesResponse:
        """The model must be listed by the endpoint's /models (NOT_FOUND naming it otherwise)."""
        if self._endpoint_caps is None:
            listed: Any = self._run(lambda c: c.get_json("/models", "the model list"))
            models = {str(m.get("id")): m for m in (listed.get("data") or []) if isinstance(m, dict)}
            if self.model not in models:
                raise ServiceError(self.service, f"model {self.model!r} is not served by {self.url} (it serves "
                                   f"{', '.join(sorted(models)) or 'nothing'})")
            self._endpoint_caps = generator_pb2.GetCapabilitiesResponse(
                engine="openai-endpoint", engine_version=f"OpenAI-compatible server at {self.url}",
                base_model=self.model, dtype="server", max_model_len=int(models[self.model].get("max_model_len") or 0),
                runtime_adapter_loading=True, max_prompts=1 << 20, max_tokens=1 << 20, max_n=1 << 10)
        return self._endpoint_caps

    def _request(self, messages: Sequence[dict[str, str]], template: str) -> tuple[str, dict[str, Any], str, str, str]:
        """(path, body without sampling, template name, template sha256, prompt sha256)."""
        if not template:
            msgs = [dict(m) for m in messages]
            return ("/chat/completions", {"messages": msgs}, SERVER_TEMPLATE, "",
                    text_sha256(json.dumps(msgs, sort_keys=True, separators=(",", ":"))))
        tpl = get_template(template)
        text = tpl.render(list(messages))
        return "/completions", {"prompt": text}, tpl.name, tpl.sha256, text_sha256(text)

    def generate(self, prompts: Sequence[PromptToGenerate], sampling: Sampling, on_sample: Callable[[Sample], None],
                 *, adapter: str = "", template: str = "", template_override: bool = False) -> None:
        """As :meth:`GeneratorClient.generate`; ``template_override`` has nothing to override here (an
        endpoint's models carry no trained-template record) and is accepted for the same call."""
        stop = list(sampling.stop) + (get_template(template).stop if template else [])
        requests = [self._request(p.messages, template) for p in prompts]

        async def work(client: OpenAIClient) -> None:
            async def one(pi: int, si: int) -> None:
                path, body, name, sha, prompt_sha = requests[pi]
                seed = sampling.seed + si
                full = {"model": adapter or self.model, **body,
                        **sampling_body(max_tokens=sampling.max_tokens, temperature=sampling.temperature,
                                        top_p=sampling.top_p, seed=seed, stop=stop)}
                what = f"adapter {adapter!r}" if adapter else f"model {self.model!r}"
                a: Answer = await client.stream(path, full, what)
                resp = generator_pb2.GenerateResponse(
                    prompt_id=f"{prompts[pi].task}/{prompts[pi].item}", prompt_index=pi, sample_index=si, text=a.text,
                    prompt_tokens=a.prompt_tokens, completion_tokens=a.completion_tokens,
                    finish_reason=_FINISH[a.finish_reason], adapter=adapter, template=name, template_sha256=sha,
                    seed=seed, prompt_sha256=prompt_sha)
                on_sample(Sample.from_proto(prompts[pi].task, prompts[pi].item, resp))

            await asyncio.gather(*[one(pi, si) for pi in range(len(prompts)) for si in range(max(1, sampling.n))])

        self._run(work)

    def complete(self, text: str, *, temperature: float, max_tokens: int, seed: int, adapter: str = "",
                 template: str = "", prompt_id: str = "prompt", timeout: float = 600.0) -> str:
        out: list[str] = []
        self.generate([PromptToGenerate("judge", prompt_id, [{"role": "user", "content": text}])],
                      Sampling(temperature=temperature, top_p=1.0, max_tokens=max_tokens, n=1, seed=seed, stop=[]),
                      lambda s: out.append(s.text), adapter=adapter, template=template)
        return out[0] if out else ""

    def load_adapter(self, name: str, path: str, *, timeout: float = 600.0) -> generator_pb2.AdapterInfo:
        """Ask the server to load ``path`` (as the SERVER sees it) as model ``name`` (vLLM's runtime
        LoRA API), replacing an adapter of that name; a server without it fails naming what to enable."""
        try:
            self._run(lambda c: c.post_json("/load_lora_adapter", {"lora_name": name, "lora_path": path},
                                            f"adapter {name!r}"))
        except ServiceError as exc:
            if "HTTP 404" in str(exc):
                raise ServiceError(self.service, f"{self.url} cannot load adapters at runtime (no /load_lora_adapter):"
                                   " start vLLM with --enable-lora and VLLM_ALLOW_RUNTIME_LORA_UPDATING=True, or "
                                   "serve the adapter with --lora-modules") from None
            if "already been loaded" not in str(exc):
                raise
            self._run(lambda c: c.post_json("/unload_lora_adapter", {"lora_name": name}, f"adapter {name!r}"))
            self._run(lambda c: c.post_json("/load_lora_adapter", {"lora_name": name, "lora_path": path},
                                            f"adapter {name!r}"))
        return generator_pb2.AdapterInfo(name=name, path=path, template="unknown")
