"""Generation core (no grpc): renders prompts, resolves the adapter, fans out prompts x samples to
the engine and yields each sample as soon as it is done.

Template choice, the rule that keeps training and evaluation on one template:
1. the request's template (``model`` = the model's own, or a registry name), else
2. the template recorded in the adapter's ``codeeval_adapter.json``, else
3. ``settings.template``; empty (the default) is the model's own template: the tokenizer's
   ``apply_chat_template`` for a chat model, raw text for a base model (no chat template).
An adapter recorded with a template other than the one chosen (different definition AND different
rendering of a probe conversation, :mod:`codeeval.prompts.model`) is refused with FAILED_PRECONDITION
naming both templates and their hashes, unless the request sets ``template_override``; then it runs
and every result says ``template_override``. An adapter without metadata ("unknown") is served with
the model's own template. Each result carries the template name, its sha256 and the sha256 of the
exact prompt text. With a remote chat endpoint and no local tokenizer (openai engine), the model's
own template is applied by the server: template ``server``, the prompt hash is over the messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from codeeval.generator.adapters import UNKNOWN_TEMPLATE, AdapterRecord, AdapterRegistry
from codeeval.generator.engine import BaseModelInfo, Completion, Engine, Sampling
from codeeval.generator.gate import AdapterGate
from codeeval.generator.settings import GeneratorSettings
from codeeval.kit.errors import FailedPrecondition, InvalidArgument, Unavailable, check_max, require
from codeeval.prompts import MODEL, Template, get_template, rendered_sha256, resolve_template, text_sha256
from codeeval.prompts.registry import TEMPLATES

log = logging.getLogger("codeeval.generator")
DEFAULT_SEED = 0


#: The largest sampling seed accepted: engines hold seeds as signed 64-bit integers (the proto field is uint64).
MAX_SEED = 2**63 - 1

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
    template_override: bool = False


SERVER = "server"


@dataclass(frozen=True)
class ServerTemplate:
    """The model's own template applied by a remote chat endpoint: unknown here, so no hash."""

    name: str = SERVER
    sha256: str = ""
    stop: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rendered:
    """One prompt ready for the engine: text (rendered here) or messages (rendered by the server)."""

    text: str
    messages: tuple[dict[str, str], ...] | None
    template: Template | ServerTemplate

    @property
    def sha256(self) -> str:
        if self.messages is not None:
            return text_sha256(json.dumps(list(self.messages), sort_keys=True, separators=(",", ":")))
        return text_sha256(self.text)


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
    prompt_sha256: str = ""
    template_override: bool = False


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
            hello = [{"role": "user", "content": "Say hello."}]
            warm_sampling = Sampling(max_tokens=self.settings.warmup_tokens)
            default = self._named(self.settings.template)
            if isinstance(default, ServerTemplate):
                warm = await self.engine.generate_chat(hello, warm_sampling, None)
            else:
                warm = await self.engine.generate(default.render(hello), warm_sampling, None)
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
    def _named(self, name: str) -> Template | ServerTemplate:
        """A template by request/settings name: "" or "model" is the model's own (raw for a base model)."""
        assert self.engine is not None
        tokenizer = self.engine.tokenizer()
        if name in ("", MODEL) and tokenizer is None and self.engine.server_side_chat:
            return ServerTemplate()
        return resolve_template(name, tokenizer)

    def _template(self, spec: GenerateSpec, adapter: AdapterRecord | None) -> tuple[Template | ServerTemplate, bool]:
        """(template, whether it overrides the adapter's recorded template); see the module docstring."""
        trained = adapter.template if adapter and adapter.template != UNKNOWN_TEMPLATE else ""
        if not trained:
            return self._named(spec.template or self.settings.template), False
        assert adapter is not None
        recorded = self._named(MODEL if trained.startswith(f"{MODEL}:") else trained) if not spec.template else None
        chosen = recorded if recorded is not None else self._named(spec.template)
        if isinstance(chosen, ServerTemplate) or self._same(adapter, chosen):
            return chosen, False
        if spec.template_override:
            return chosen, True
        was = (f"sha256 {adapter.template_sha256[:12] or 'unknown'}, "
               f"rendered {adapter.template_rendered_sha256[:12] or 'unknown'}")
        now = f"sha256 {chosen.sha256[:12]}, rendered {rendered_sha256(chosen)[:12]}"
        raise FailedPrecondition(
            f"adapter {adapter.name!r} was trained with template {trained!r} ({was}) but would be served with "
            f"{chosen.name!r} ({now})"
            "; set template_override to run it anyway (its results are flagged)", field="template")

    @staticmethod
    def _same(adapter: AdapterRecord, chosen: Template) -> bool:
        """The recorded template is ``chosen``: same definition hash, same rendering, or, for a record
        without a rendering hash, a registry template (unchanged since) that renders like ``chosen``."""
        if adapter.template_sha256 and adapter.template_sha256 == chosen.sha256:
            return True
        if adapter.template_rendered_sha256:
            return adapter.template_rendered_sha256 == rendered_sha256(chosen)
        if adapter.template not in TEMPLATES or adapter.template_sha256 not in ("", TEMPLATES[adapter.template].sha256):
            return False
        return rendered_sha256(TEMPLATES[adapter.template]) == rendered_sha256(chosen)

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
        if spec.seed is not None and spec.seed > MAX_SEED:  # vLLM answered 2**64 - 1 with n=2 by INTERNAL
            raise InvalidArgument(f"seed {spec.seed} is over {MAX_SEED} (a signed 64-bit integer)",
                                  field="sampling.seed")
        check_max("sampling.stop", len(spec.stop), 16)
        for i, stop in enumerate(spec.stop):  # vLLM refuses an empty one with a ValueError (was INTERNAL)
            require(stop != "", f"sampling.stop[{i}]", "a stop string must not be empty")
        return n, Sampling(max_tokens=max_tokens, temperature=spec.temperature, top_p=spec.top_p or 1.0,
                           seed=DEFAULT_SEED if spec.seed is None else spec.seed, stop=spec.stop)

    def _render(self, p: PromptInput, i: int, template: Template | ServerTemplate) -> Rendered:
        if p.kind == "raw":  # vLLM fails an empty prompt with an error of its own (was INTERNAL)
            require(bool(p.text), f"prompts[{i}].raw", "a raw prompt must not be empty")
            return Rendered(p.text, None, get_template("raw"))
        if p.kind == "chat":
            require(bool(p.messages), f"prompts[{i}].chat.messages", "at least one message is required")
            messages: Sequence[dict[str, str]] = p.messages
        else:
            require(bool(p.text), f"prompts[{i}]", "text, chat or raw is required")
            messages = ({"role": "user", "content": p.text},)
        if isinstance(template, ServerTemplate):
            return Rendered("", tuple(dict(m) for m in messages), template)
        return Rendered(template.render(list(messages)), None, template)

    async def generate(self, spec: GenerateSpec) -> AsyncIterator[SampleResult]:
        """Yield every (prompt, sample) as it finishes; all validation happens before the first
        engine call. Cancelling the iteration cancels the samples still running."""
        registry = self._registry()
        n, base_sampling = self._sampling(spec)
        adapter = registry.get(spec.adapter) if spec.adapter else None
        template, overridden = self._template(spec, adapter)
        rendered = [self._render(p, i, template) for i, p in enumerate(spec.prompts)]
        engine = self.engine
        assert self.info is not None and engine is not None
        for i, r in enumerate(rendered):
            if r.messages is None:
                budget = self.info.max_model_len - base_sampling.max_tokens
                check_max(f"prompts[{i}] (tokens, max_model_len - max_tokens)", engine.count_tokens(r.text), budget)
        async with contextlib.AsyncExitStack() as stack:
            if spec.adapter:
                await stack.enter_async_context(registry.use(spec.adapter))
            queue: asyncio.Queue[SampleResult | BaseException] = asyncio.Queue()

            async def one(pi: int, si: int, r: Rendered) -> None:
                tpl = r.template
                sampling = Sampling(**{**base_sampling.__dict__, "seed": base_sampling.seed + si,
                                       "stop": tuple(dict.fromkeys(base_sampling.stop + tuple(tpl.stop)))})
                try:
                    async with (self.gate.admit(spec.adapter or None) if self.gate else contextlib.nullcontext()):
                        if r.messages is not None:
                            c = await engine.generate_chat(r.messages, sampling, spec.adapter or None)
                        else:
                            c = await engine.generate(r.text, sampling, spec.adapter or None)
                    await queue.put(SampleResult(spec.prompts[pi].id, pi, si, c, spec.adapter, tpl.name, tpl.sha256,
                                                 sampling.seed, r.sha256, overridden and tpl is template))
                except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which re-raises
                    await queue.put(exc)
                    if isinstance(exc, asyncio.CancelledError):
                        raise

            tasks = [asyncio.create_task(one(pi, si, r)) for pi, r in enumerate(rendered) for si in range(n)]
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
