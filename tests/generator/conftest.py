"""Fixtures: a tiny random Llama (codeeval.models.tiny_llama; a base model: no chat template), the
same model with SmolLM2-Instruct's chat template (a chat model), two random LoRA adapters, and a
generator service on the chat model (transformers engine, real gRPC on port 0)."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from codeeval.api.generator.v1 import generator_pb2_grpc
from codeeval.generator.server import create
from codeeval.generator.settings import GeneratorSettings
from codeeval.kit.server import Runner

from .lora_factory import random_adapter


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    prebuilt = os.environ.get("CODEEVAL_TINY_MODEL_DIR")
    if prebuilt:
        return Path(prebuilt)
    from codeeval.models import tiny_llama

    return tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


# SmolLM2-135M-Instruct's own chat template (the Jinja string from its tokenizer_config.json).
SMOLLM2_JINJA = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\n"
    "You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")


def with_chat_template(model: Path, out: Path, template: str) -> Path:
    """A copy of ``model`` whose tokenizer has ``template``; the folder keeps the model's name, so
    adapters of ``model`` match it as their base."""
    from transformers import AutoTokenizer

    target = out / model.name
    shutil.copytree(model, target)
    tok = AutoTokenizer.from_pretrained(target)
    tok.chat_template = template
    tok.save_pretrained(target)
    return target


@pytest.fixture(scope="session")
def tiny_chat_model(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return with_chat_template(tiny_model, tmp_path_factory.mktemp("tiny-chat"), SMOLLM2_JINJA)


@pytest.fixture(scope="session")
def tiny_adapters(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny-adapters")
    return {name: random_adapter(tiny_model, root / name, seed=seed) for name, seed in (("alpha", 1), ("beta", 2))}


def tiny_settings(model: Path, **overrides: object) -> GeneratorSettings:
    values: dict[str, object] = {"engine": "transformers", "model": str(model), "dtype": "float32",
                                 "max_model_len": 512, "max_lora_rank": 8, "max_cpu_loras": 4,
                                 "default_max_tokens": 8, "health_recheck_seconds": 0.2, **overrides}
    return GeneratorSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
async def generator(tiny_chat_model: Path) -> AsyncIterator[generator_pb2_grpc.GeneratorServiceStub]:
    settings = tiny_settings(tiny_chat_model)
    runner = Runner(create(settings), settings)
    await runner.start()
    await runner.wait_ready(60)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{runner.port}")
    stub = generator_pb2_grpc.GeneratorServiceStub(channel)
    stub.port = runner.port  # type: ignore[attr-defined]
    yield stub
    await channel.close()
    await runner.shutdown(grace=1)
