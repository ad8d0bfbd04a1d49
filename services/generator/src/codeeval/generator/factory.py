"""Builds the configured engine: resolves the model (converting the default one on first use) and
picks vLLM or transformers. Slow on first start (conversion); call it off the event loop."""

from __future__ import annotations

from pathlib import Path

from codeeval.generator.engine import Engine
from codeeval.generator.settings import GeneratorSettings
from codeeval.models import DEFAULT_MODEL_NAME, model_sha256, prepare_default_model


def resolve_model(settings: GeneratorSettings) -> tuple[str, str, str]:
    """(path or hub id, display name, weights sha256 or '')."""
    if settings.model == "default":
        path = prepare_default_model(settings.model_cache)
        return str(path), DEFAULT_MODEL_NAME, model_sha256(path)
    local = Path(settings.model).expanduser()
    if local.is_dir():
        return str(local.resolve()), local.name, model_sha256(local)
    return settings.model, settings.model, ""


def resolve_dtype(dtype: str, cpu_flags: set[str] | None = None, cuda: bool | None = None) -> str:
    """``auto`` -> bfloat16 where the hardware computes it natively (a CUDA GPU, a CPU with AVX512-BF16 or
    AMX), float32 elsewhere: on an AVX2-only CPU bf16 is emulated and vLLM decodes 2.2x slower (measured
    with SmolLM2-135M, one thread). Explicit dtypes pass through."""
    if dtype != "auto":
        return dtype
    if cuda is None:
        import torch

        cuda = torch.cuda.is_available()
    if cuda:
        return "bfloat16"
    flags = _cpu_flags() if cpu_flags is None else cpu_flags
    return "bfloat16" if flags & {"avx512_bf16", "amx_bf16"} else "float32"


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return set()


def engine_kind(settings: GeneratorSettings) -> str:
    if settings.engine != "auto":
        return settings.engine
    from codeeval.generator.vllm_engine import vllm_available

    return "vllm" if vllm_available() else "transformers"


def build_engine(settings: GeneratorSettings) -> Engine:
    path, name, sha = resolve_model(settings)
    dtype = resolve_dtype(settings.dtype)
    if engine_kind(settings) == "vllm":
        from codeeval.generator.vllm_engine import VllmEngine

        return VllmEngine(path, model_name=name, model_sha256=sha, dtype=dtype,
                          max_model_len=settings.max_model_len, max_loras=settings.max_loras,
                          max_lora_rank=settings.max_lora_rank, max_cpu_loras=settings.max_cpu_loras,
                          max_num_seqs=settings.max_batch_size, kv_cache_gib=settings.kv_cache_gib,
                          threads=settings.compute_threads)
    from codeeval.generator.hf_engine import TransformersEngine

    return TransformersEngine(path, model_name=name, model_sha256=sha, dtype=dtype,
                              max_model_len=settings.max_model_len, max_lora_rank=settings.max_lora_rank,
                              max_adapters=settings.max_cpu_loras, max_batch_size=settings.max_batch_size,
                              batch_wait_ms=settings.batch_wait_ms, threads=settings.compute_threads)
