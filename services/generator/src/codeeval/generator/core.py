"""Generation core (no grpc): renders prompts through the shared template registry, resolves the
adapter, fans out prompts x samples to the engine and yields each sample as soon as it is done.

Template choice, the rule that keeps training and evaluation on one template: the request's
template, else the template recorded in the adapter's ``codeeval_adapter.json``, else the base
model's (``settings.template``). A request naming a template other than the one its adapter was
trained with is refused (FAILED_PRECONDITION). Each result carries the template name and sha256.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Literal

from codeeval.generator.adapters import AdapterRecord, AdapterRegistry
from codeeval.generator.engine import BaseModelInfo, Completion, Engine, Sampling
from codeeval.generator.gate import AdapterGate
from codeeval.generator.settings import GeneratorSettings
from codeeval.kit.errors import FailedPrecondition, InvalidArgument, Unavailable, check_max, require
from codeeval.prompts import ChatTemplate, get_template

log = logging.getLogger("codeeval.generator")
DEFAULT_SEED = 0


@dataclass(frozen=True)
class PromptInput:
    id: str = ""
    kind: Literal["text", "chat", "raw"] = "text"
    text: str = ""
    messages: tuple[dict[str, str], ...] = ()


@dataclass(frozen=True)
class GenerateSpec:
    prompts: tuple[PromptInput, ...]
    adapter: str = ""
    template: str = ""
    temperature: float = 0.0
    top_p: float = 0.0
    max_tokens: int = 0
    n: int = 0
    seed: int | None = None
    stop: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class SampleResult:
    prompt_id: str
    prompt_index: int
    sample_index: int
    completion: Completion
    adapter: str
    template: str
    template_sha256: str
    seed: int


class GenerationCore:
    """``engine_factory`` may be slow (it may convert the default model); it runs in a thread at start."""

    def __init__(self, engine_factory: Callable[[], Engine], settings: GeneratorSettings) -> None:
        self._engine_factory = engine_factory
        self.engine: Engine | None = None
        self.settings = settings
        self.gate = AdapterGate() if settings.group_by_adapter else None
        self.info: BaseModelInfo | None = None
        self.registry: AdapterRegistry | None = None
        self._ready = False
        self._failure = ""

    # lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        """Load the model, the configured adapters, and run one real generation; only then ready."""
        try:
            self.engine = await asyncio.to_thread(self._engine_factory)
            self.info = await self.engine.start()
            self.registry = AdapterRegistry(self.engine, self.info, self.settings.runtime_adapter_loading)
            for name, path in self.settings.adapters.items():
                await self.registry.load(name, str(path), startup=True)
            warm = await self.engine.generate(get_template(self.settings.template).render(
                [{"role": "user", "content": "Say hello."}]), Sampling(max_tokens=self.settings.warmup_tokens), None)
            require(warm.completion_tokens > 0 or warm.finish_reason == "stop", "model", "warm-up generated nothing")
            self._ready = True
            log.info("generator ready", extra={"fields": {"model": self.info.model, "engine": self.info.engine}})
        except Exception as exc:
            self._failure = f"{type(exc).__name__}: {exc}"
            raise

    async def stop(self) -> None:
        self._ready = False
        if self.engine is not None:
            await self.engine.stop()

    def readiness(self) -> str | None:
        if self._ready:
            return None
        return f"start-up failed: {self._failure}" if self._failure else "loading the model"

    def _registry(self) -> AdapterRegistry:
        if self.registry is None or self.engine is None or not self._ready:
            raise Unavailable("the model is still loading", field="model")
        return self.registry

    async def load_adapter(self, name: str, path: str, replace: bool) -> AdapterRecord:
        require(bool(path), "path", "required")
        return await self._registry().load(name, path, replace)

    async def unload_adapter(self, name: str) -> None:
        await self._registry().unload(name)

    def list_adapters(self) -> list[AdapterRecord]:
        return self._registry().list()

    # generation ----------------------------------------------------------------------------
    def _template(self, spec: GenerateSpec, adapter: AdapterRecord | None) -> ChatTemplate:
        trained = adapter.template if adapter else ""
        if adapter and spec.template and trained and spec.template != trained:
            raise FailedPrecondition(f"template {spec.template!r} differs from {trained!r}, the template adapter "
                                     f"{adapter.name!r} was trained with", field="template")
        return get_template(spec.template or trained or self.settings.template)

    def _sampling(self, spec: GenerateSpec) -> tuple[int, Sampling]:
        s = self.settings
        check_max("prompts", len(spec.prompts), s.max_prompts)
        require(len(spec.prompts) > 0, "prompts", "at least one prompt is required")
        n = spec.n or 1
        check_max("sampling.n", n, s.max_n)
        max_tokens = spec.max_tokens or s.default_max_tokens
        check_max("sampling.max_tokens", max_tokens, s.max_tokens, "tokens")
        if not 0 <= spec.temperature <= 5:
            raise InvalidArgument(f"temperature {spec.temperature} is outside [0, 5]", field="sampling.temperature")
        if not 0 <= spec.top_p <= 1:
            raise InvalidArgument(f"top_p {spec.top_p} is outside [0, 1]", field="sampling.top_p")
        check_max("sampling.stop", len(spec.stop), 16)
        return n, Sampling(max_tokens=max_tokens, temperature=spec.temperature, top_p=spec.top_p or 1.0,
                           seed=DEFAULT_SEED if spec.seed is None else spec.seed, stop=spec.stop)

    def _render(self, p: PromptInput, i: int, template: ChatTemplate) -> tuple[str, ChatTemplate]:
        if p.kind == "raw":
            return p.text, get_template("raw")
        if p.kind == "chat":
            require(bool(p.messages), f"prompts[{i}].chat.messages", "at least one message is required")
            return template.render(list(p.messages)), template
        require(bool(p.text), f"prompts[{i}]", "text, chat or raw is required")
        return template.render([{"role": "user", "content": p.text}]), template

    async def generate(self, spec: GenerateSpec) -> AsyncIterator[SampleResult]:
        """Yield every (prompt, sample) as it finishes; all validation happens before the first
        engine call. Cancelling the iteration cancels the samples still running."""
        registry = self._registry()
        n, base_sampling = self._sampling(spec)
        adapter = registry.get(spec.adapter) if spec.adapter else None
        template = self._template(spec, adapter)
        rendered = [self._render(p, i, template) for i, p in enumerate(spec.prompts)]
        engine = self.engine
        assert self.info is not None and engine is not None
        for i, (text, _) in enumerate(rendered):
            budget = self.info.max_model_len - base_sampling.max_tokens
            check_max(f"prompts[{i}] (tokens, max_model_len - max_tokens)", engine.count_tokens(text), budget)
        async with contextlib.AsyncExitStack() as stack:
            if spec.adapter:
                await stack.enter_async_context(registry.use(spec.adapter))
            queue: asyncio.Queue[SampleResult | BaseException] = asyncio.Queue()

            async def one(pi: int, si: int, text: str, tpl: ChatTemplate) -> None:
                sampling = Sampling(**{**base_sampling.__dict__, "seed": base_sampling.seed + si,
                                       "stop": tuple(dict.fromkeys(base_sampling.stop + tuple(tpl.stop)))})
                try:
                    async with (self.gate.admit(spec.adapter or None) if self.gate else contextlib.nullcontext()):
                        c = await engine.generate(text, sampling, spec.adapter or None)
                    await queue.put(SampleResult(spec.prompts[pi].id, pi, si, c, spec.adapter, tpl.name, tpl.sha256,
                                                 sampling.seed))
                except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which re-raises
                    await queue.put(exc)
                    if isinstance(exc, asyncio.CancelledError):
                        raise

            tasks = [asyncio.create_task(one(pi, si, text, tpl))
                     for pi, (text, tpl) in enumerate(rendered) for si in range(n)]
            try:
                for _ in tasks:
                    item = await queue.get()
                    if isinstance(item, BaseException):
                        raise item
                    yield item
            finally:
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
