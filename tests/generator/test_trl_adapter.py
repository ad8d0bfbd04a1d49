"""An adapter from elsewhere: a PEFT LoRA adapter trained by TRL's SFTTrainer (support.trl_adapter: 3
steps on the default model, conversational data, so TRL formats it with the model's own chat template;
trained once per machine) and saved without codeeval metadata, loaded into the generator (transformers
engine, real gRPC) and used: its template is "unknown" and it is served with the model's own template,
which matches how TRL trained it."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from support.trl_adapter import trl_adapter as train_trl_adapter

from codeeval.api.generator.v1 import generator_pb2 as pb
from codeeval.api.generator.v1 import generator_pb2_grpc
from codeeval.generator.server import create
from codeeval.generator.settings import GeneratorSettings
from codeeval.kit.server import Runner
from codeeval.prompts import model_template, rendered_sha256, text_sha256

pytestmark = [pytest.mark.slow, pytest.mark.integration]


@pytest.fixture(scope="module")
def default_model() -> Path:
    from codeeval.models import prepare_default_model

    return prepare_default_model()


@pytest.fixture(scope="module")
def trl_adapter(default_model: Path) -> Path:
    return train_trl_adapter(default_model)


async def test_trl_adapter_loads_and_generates_with_the_models_own_template(default_model, trl_adapter) -> None:  # type: ignore[no-untyped-def]
    assert (trl_adapter / "adapter_config.json").exists() and not (trl_adapter / "codeeval_adapter.json").exists()
    values: dict[str, object] = {"engine": "transformers", "model": str(default_model), "dtype": "float32",
                                 "max_model_len": 512, "max_lora_rank": 8, "health_recheck_seconds": 0.5}
    settings = GeneratorSettings(**values)  # type: ignore[arg-type]
    runner = Runner(create(settings), settings)
    await runner.start()
    await runner.wait_ready(120)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{runner.port}")
    try:
        stub = generator_pb2_grpc.GeneratorServiceStub(channel)
        loaded = await stub.LoadAdapter(pb.LoadAdapterRequest(name="trl", path=str(trl_adapter)))
        assert loaded.adapter.template == "unknown" and loaded.adapter.rank == 8
        req = pb.GenerateRequest(prompts=[pb.Prompt(text="Write a Python function number 3.")], adapter="trl",
                                 sampling=pb.SamplingParams(max_tokens=16))
        out = [r async for r in stub.Generate(req)]
        from transformers import AutoTokenizer

        own = model_template(AutoTokenizer.from_pretrained(default_model))
        assert own is not None
        assert out[0].adapter == "trl" and out[0].template == own.name and out[0].template_sha256 == own.sha256
        assert out[0].prompt_sha256 == text_sha256(own.render([{"role": "user",
                                                                "content": "Write a Python function number 3."}]))
        assert out[0].completion_tokens > 0 and out[0].text.strip()
        # The registry's smollm2 renders like the model's own: serving it is no override.
        same = [r async for r in stub.Generate(pb.GenerateRequest(prompts=[pb.Prompt(text="hi")], adapter="trl",
                                                                  template="smollm2",
                                                                  sampling=pb.SamplingParams(max_tokens=2)))]
        assert not same[0].template_override
    finally:
        await channel.close()
        await runner.shutdown(grace=1)


def test_defaults_agree_trainer_and_generator(default_model: Path) -> None:
    """The main job: the default CPU training config's template and the generator's default (the
    model's own) render the default model's prompts identically, so no override is ever needed."""
    from transformers import AutoTokenizer

    from codeeval.generator.settings import GeneratorSettings as Settings
    from codeeval.prompts import resolve_template
    from codeeval.trainer.recipe_schema import load_config

    cfg = load_config("smollm2-multitask-qlora-cpu", {})
    tokenizer = AutoTokenizer.from_pretrained(default_model)
    trained = resolve_template(cfg.model.template, tokenizer)
    served = resolve_template(Settings.model_fields["template"].default, tokenizer)
    assert served.name.startswith("model:")
    assert rendered_sha256(trained) == rendered_sha256(served)
