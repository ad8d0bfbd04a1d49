"""A finished job loads its adapter into a running generator (real default model, transformers
engine, real gRPC) and the adapter changes the generator's output; the generator's max LoRA rank
is enforced before training starts."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from codeeval.api.generator.v1 import generator_pb2 as gpb
from codeeval.api.generator.v1 import generator_pb2_grpc
from codeeval.api.trainer.v1 import trainer_pb2, trainer_pb2_grpc
from codeeval.kit.server import Runner
from codeeval.prompts import get_task_prompt
from codeeval.trainer.server import create
from codeeval.trainer.settings import TrainerSettings

pytestmark = [pytest.mark.slow, pytest.mark.integration]
JAVA = "public int getValue7() { return value7 + 7; }"


async def _generate(stub, adapter: str, template: str) -> str:  # type: ignore[no-untyped-def]
    messages = get_task_prompt("translate-java-cs").messages(code=JAVA)
    chat = gpb.Chat(messages=[gpb.ChatMessage(role=m["role"], content=m["content"]) for m in messages])
    req = gpb.GenerateRequest(prompts=[gpb.Prompt(id="p", chat=chat)], adapter=adapter, template=template,
                              sampling=gpb.SamplingParams(temperature=0, max_tokens=24))
    return "".join([r.text async for r in stub.Generate(req, timeout=600)])


async def test_trained_adapter_is_loaded_and_changes_output(tmp_path: Path) -> None:
    gen_mod = pytest.importorskip("codeeval.generator.server")
    from codeeval.generator.settings import GeneratorSettings
    from codeeval.models import prepare_default_model

    prepare_default_model()
    gsettings = GeneratorSettings(engine="transformers", model="default", dtype="float32", max_lora_rank=8,
                                  max_model_len=1024, health_recheck_seconds=1.0)
    generator = Runner(gen_mod.create(gsettings), gsettings)
    await generator.start()
    await generator.wait_ready(600)
    gen_addr = f"127.0.0.1:{generator.port}"
    tsettings = TrainerSettings(state_dir=tmp_path / "state", generator_addr=gen_addr, poll_seconds=0.2)
    trainer = Runner(create(tsettings), tsettings)
    await trainer.start()
    await trainer.wait_ready(30)
    gchan = grpc.aio.insecure_channel(gen_addr)
    tchan = grpc.aio.insecure_channel(f"127.0.0.1:{trainer.port}")
    try:
        gstub = generator_pb2_grpc.GeneratorServiceStub(gchan)
        tstub = trainer_pb2_grpc.TrainerServiceStub(tchan)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await tstub.StartTraining(trainer_pb2.StartTrainingRequest(
                config="smollm2-multitask-lora-cpu", overrides={"method.lora.r": "16"}))
        assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION and "max_lora_rank of 8" in info.value.details()

        before = await _generate(gstub, "", "smollm2")
        overrides = {"train.max_steps": "3", "train.learning_rate": "1e-2", "train.warmup_steps": "0",
                     "train.eval_every": "0", "data.eval_fraction": "0", "data.max_length": "96",
                     "data.tasks.0.source.limit": "6", "data.tasks.1.source.limit": "6",
                     "data.tasks.2.source.limit": "6", "output.load_into_generator": "true",
                     "output.adapter_name": "trained-here"}
        job = (await tstub.StartTraining(trainer_pb2.StartTrainingRequest(
            config="smollm2-multitask-lora-cpu", overrides=overrides))).job
        final, messages = None, []
        async for ev in tstub.WatchJob(trainer_pb2.WatchJobRequest(id=job.id), timeout=1200):
            if ev.WhichOneof("event") == "job":
                final = ev.job
            elif ev.message:
                messages.append(ev.message)
        assert final is not None and final.state == trainer_pb2.JobState.JOB_STATE_SUCCEEDED, final
        assert any("loaded adapter 'trained-here'" in m for m in messages), messages
        adapters = (await gstub.ListAdapters(gpb.ListAdaptersRequest())).adapters
        assert [a.name for a in adapters] == ["trained-here"] and adapters[0].rank == 8
        after = await _generate(gstub, "trained-here", "")
        assert after != before
        assert await _generate(gstub, "", "smollm2") == before
    finally:
        await gchan.close()
        await tchan.close()
        await trainer.shutdown(grace=1)
        await generator.shutdown(grace=1)
