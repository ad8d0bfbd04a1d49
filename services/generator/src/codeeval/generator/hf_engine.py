"""transformers + PEFT engine: a bf16 base on CPU (or CUDA), several LoRA adapters loaded at once,
and micro-batches that mix adapters per row through PEFT's ``adapter_names=`` generation.

Batching: pending samples wait up to ``batch_wait_ms`` to fill a micro-batch of at most
``max_batch_size`` rows. Rows in one batch share sampling (greedy rows batch freely; sampled rows
only with the same temperature, top_p and seed, because torch's RNG is per batch). One batch runs
at a time in a worker thread; adapter loads/unloads take the same lock, so they never race a
generation. No continuous batching: a batch runs until its longest row is done.

Stop strings are each row's own (:func:`stop_criteria`): rows of different stops batch together,
and one row's stop never cuts another's text. transformers' own ``stop_strings=`` is not used: it
precomputes a table over the whole vocabulary for every stop character at every ``generate`` call
(measured with SmolLM2's 49k vocabulary: 0.6 s for a 5-character stop, 13 s for 1,000 characters,
54 s for 4,000), so a long stop string in one request held the engine for minutes.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Literal

from codeeval.generator.engine import BaseModelInfo, Completion, Engine, Sampling, trim_at_stop

BASE = "__base__"  # PEFT's name for "no adapter" in adapter_names


@dataclass
class _Pending:
    prompt: str
    sampling: Sampling
    adapter: str | None
    future: asyncio.Future[Completion]


def stop_criteria(tok: Any, prompt_len: int, stops: list[tuple[str, ...]]) -> Any:
    """A ``StoppingCriteria`` that ends row ``i`` once its generated text holds one of ``stops[i]``.
    Each step decodes only the row's last tokens (as many as its longest stop has characters, plus
    a margin: a token is at least one character), so the cost per step is bounded by the stop's
    length and by what the row has generated, whatever the vocabulary."""
    import torch
    from transformers import StoppingCriteria

    class _StopAt(StoppingCriteria):  # type: ignore[misc]
        def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any) -> torch.Tensor:
            done = []
            for row, row_stops in enumerate(stops):
                if not row_stops:
                    done.append(False)
                    continue
                window = max(len(s) for s in row_stops) + 8
                tail = input_ids[row, max(prompt_len, input_ids.shape[1] - window):].tolist()
                text = tok.decode(tail, skip_special_tokens=True)
                done.append(any(s in text for s in row_stops))
            return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    return _StopAt()


def _batch_key(s: Sampling) -> tuple[Any, ...]:
    return ("greedy",) if s.temperature == 0 else ("sample", s.temperature, s.top_p, s.seed)


class TransformersEngine(Engine):
    def __init__(self, model_path: str, *, model_name: str, model_sha256: str, dtype: str = "bfloat16",
                 max_model_len: int = 2048, max_lora_rank: int = 64, max_adapters: int = 16,
                 max_batch_size: int = 16, batch_wait_ms: float = 5.0, threads: int = 1) -> None:
        self.model_path = model_path
        self.model_name = model_name
        self.model_sha256 = model_sha256
        self.dtype = dtype
        self.max_model_len = max_model_len
        self.max_lora_rank = max_lora_rank
        self.max_adapters = max_adapters
        self.max_batch_size = max_batch_size
        self.batch_wait = batch_wait_ms / 1000
        self.threads = threads
        self.model: Any = None
        self._tok: Any = None
        self._batch_tok: Any = None
        self._adapters: set[str] = set()
        self._pending: list[_Pending] = []
        self._wakeup = asyncio.Event()
        self._lock = asyncio.Lock()
        self._worker: asyncio.Task[None] | None = None

    # lifecycle -----------------------------------------------------------------------------
    def _load(self) -> BaseModelInfo:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        torch.set_num_threads(self.threads)
        # Two tokenizers: a fast tokenizer's padding is state of its Rust backend, so an unpadded call
        # (count_tokens, on the event loop's thread) reset it under a batch's padded encoding in the
        # worker thread, which then failed with ragged rows (INTERNAL). The batch encodes with its own.
        self._tok, self._batch_tok = (AutoTokenizer.from_pretrained(self.model_path) for _ in range(2))
        for tok in (self._tok, self._batch_tok):
            tok.padding_side = "left"
            if tok.pad_token_id is None:
                tok.pad_token = tok.eos_token
        self.model = AutoModelForCausalLM.from_pretrained(self.model_path, dtype=getattr(torch, self.dtype))
        self.model.eval()
        linear = frozenset(n for n, m in self.model.named_modules() if isinstance(m, torch.nn.Linear))
        return BaseModelInfo(
            engine="transformers", engine_version=f"transformers {metadata.version('transformers')}, "
            f"peft {metadata.version('peft')}, torch {torch.__version__}", model=self.model_name,
            model_path=self.model_path, model_sha256=self.model_sha256, dtype=self.dtype,
            max_model_len=self.max_model_len, max_loras=self.max_adapters, max_lora_rank=self.max_lora_rank,
            max_adapters=self.max_adapters, linear_modules=linear)

    async def start(self) -> BaseModelInfo:
        info = await asyncio.to_thread(self._load)
        self._worker = asyncio.create_task(self._run())
        return info

    async def stop(self) -> None:
        if self._worker:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        for p in self._pending:
            if not p.future.done():
                p.future.cancel()

    def count_tokens(self, text: str) -> int:
        return len(self._tok(text, add_special_tokens=False)["input_ids"])

    def tokenizer(self) -> Any:
        return self._tok

    # adapters ------------------------------------------------------------------------------
    def _add(self, name: str, path: str) -> None:
        from peft import PeftModel

        if name in self._adapters:
            self._remove(name)
        if isinstance(self.model, PeftModel):
            self.model.load_adapter(path, adapter_name=name)
        else:
            self.model = PeftModel.from_pretrained(self.model, path, adapter_name=name)
        self.model.eval()
        self._adapters.add(name)

    def _remove(self, name: str) -> None:
        self._adapters.discard(name)
        if not self._adapters:
            self.model = self.model.unload()
        else:
            self.model.delete_adapter(name)

    async def add_adapter(self, name: str, path: str) -> None:
        async with self._lock:
            await asyncio.to_thread(self._add, name, path)

    async def remove_adapter(self, name: str) -> None:
        async with self._lock:
            await asyncio.to_thread(self._remove, name)

    # generation ----------------------------------------------------------------------------
    async def generate(self, prompt: str, sampling: Sampling, adapter: str | None) -> Completion:
        fut: asyncio.Future[Completion] = asyncio.get_running_loop().create_future()
        self._pending.append(_Pending(prompt, sampling, adapter, fut))
        self._wakeup.set()
        return await fut

    def _take_batch(self) -> list[_Pending]:
        self._pending = [p for p in self._pending if not p.future.done()]
        if not self._pending:
            return []
        key = _batch_key(self._pending[0].sampling)
        batch = [p for p in self._pending if _batch_key(p.sampling) == key][: self.max_batch_size]
        taken = {id(p) for p in batch}
        self._pending = [p for p in self._pending if id(p) not in taken]
        return batch

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            await asyncio.sleep(self.batch_wait)
            async with self._lock:
                batch = self._take_batch()
                if not self._pending:
                    self._wakeup.clear()
                if not batch:
                    continue
                try:
                    results = await asyncio.to_thread(self._generate_batch, batch)
                except Exception as exc:  # noqa: BLE001 - every waiter gets the failure
                    for p in batch:
                        if not p.future.done():
                            p.future.set_exception(exc)
                    continue
            for p, r in zip(batch, results, strict=True):
                if not p.future.done():
                    p.future.set_result(r)

    def _generate_batch(self, batch: list[_Pending]) -> list[Completion]:
        """Cost: one ``generate`` call of max(max_tokens) steps over len(batch) rows."""
        import torch

        first = batch[0].sampling
        max_new = max(p.sampling.max_tokens for p in batch)
        from transformers import StoppingCriteriaList

        enc = self._batch_tok([p.prompt for p in batch], return_tensors="pt", padding=True, add_special_tokens=False)
        kwargs: dict[str, Any] = {"max_new_tokens": max_new, "pad_token_id": self._tok.pad_token_id}
        stops = [tuple(s for s in p.sampling.stop if s) for p in batch]
        if any(stops):
            kwargs["stopping_criteria"] = StoppingCriteriaList(
                [stop_criteria(self._tok, enc["input_ids"].shape[1], stops)])
        if first.temperature > 0:
            torch.manual_seed(first.seed)
            kwargs.update(do_sample=True, temperature=first.temperature, top_p=first.top_p)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        if self._adapters:
            kwargs["adapter_names"] = [p.adapter or BASE for p in batch]
        with torch.inference_mode():
            out = self.model.generate(**enc, **kwargs)
        prompt_len = enc["input_ids"].shape[1]
        eos = {self._tok.eos_token_id, self._tok.pad_token_id} - {None}
        results = []
        for row, p in enumerate(batch):
            ids = out[row, prompt_len:].tolist()[: p.sampling.max_tokens]
            end = next((i for i, t in enumerate(ids) if t in eos), None)
            ids = ids if end is None else ids[:end]
            text, stopped = trim_at_stop(self._tok.decode(ids, skip_special_tokens=True), p.sampling.stop)
            completion_tokens = self.count_tokens(text) if stopped else len(ids)
            finish: Literal["stop", "length"] = "stop" if stopped or end is not None else "length"
            results.append(Completion(text=text, prompt_tokens=int(enc["attention_mask"][row].sum()),
                                      completion_tokens=completion_tokens, finish_reason=finish))
        return results
