"""TrainerService over real gRPC (in-process, port 0): bad input gets the specific status code
naming the field before any job exists; Get/List/Cancel on unknown ids. The generator here is a
fake GetCapabilities server (glue only); the real generator is exercised in the slow tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from codeeval.api.generator.v1 import generator_pb2, generator_pb2_grpc
from codeeval.api.trainer.v1 import trainer_pb2, trainer_pb2_grpc
from codeeval.kit.server import Runner
from codeeval.trainer.server import create
from codeeval.trainer.settings import TrainerSettings


class FakeGenerator(generator_pb2_grpc.GeneratorServiceServicer):
    async def GetCapabilities(self, request, context):  # noqa: N802
        return generator_pb2.GetCapabilitiesResponse(engine="transformers", max_lora_rank=4)


@pytest.fixture
async def generator_addr() -> AsyncIterator[str]:
    server = grpc.aio.server()
    generator_pb2_grpc.add_GeneratorServiceServicer_to_server(FakeGenerator(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield f"127.0.0.1:{port}"
    await server.stop(0)


@pytest.fixture
async def trainer(tmp_path: Path, generator_addr: str) -> AsyncIterator[trainer_pb2_grpc.TrainerServiceStub]:
    settings = TrainerSettings(state_dir=tmp_path / "state", generator_addr=generator_addr)
    runner = Runner(create(settings), settings)
    await runner.start()
    await runner.wait_ready(10)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{runner.port}")
    yield trainer_pb2_grpc.TrainerServiceStub(channel)
    await channel.close()
    await runner.shutdown(grace=1)


async def _start_error(stub, config: str, **overrides: str) -> grpc.aio.AioRpcError:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.StartTraining(trainer_pb2.StartTrainingRequest(config=config, overrides=overrides))
    return info.value


async def test_unknown_config_is_not_found_with_suggestion(trainer) -> None:  # type: ignore[no-untyped-def]
    err = await _start_error(trainer, "smollm2-multitask-qlora-cp")
    assert err.code() == grpc.StatusCode.NOT_FOUND
    assert "did you mean 'smollm2-multitask-qlora-cpu'" in err.details()


async def test_override_outside_whitelist_is_invalid_argument(trainer) -> None:  # type: ignore[no-untyped-def]
    err = await _start_error(trainer, "smollm2-multitask-qlora-cpu", **{"train.optimizer": "sgd"})
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "overrides[train.optimizer]" in err.details()
    err = await _start_error(trainer, "smollm2-multitask-qlora-cpu", **{"train.max_steps": "-1"})
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "train.max_steps" in err.details()


async def test_missing_dataset_names_the_path(trainer, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CODEEVAL_DATASETS_DIR", str(tmp_path / "no-datasets"))
    err = await _start_error(trainer, "tiny-multitask-lora", **{"method.lora.r": "4"})  # the main job's need none
    assert err.code() == grpc.StatusCode.NOT_FOUND
    assert str(tmp_path / "no-datasets" / "codexglue_code_to_code_trans" / "valid.java-cs.txt.java") in err.details()
    # the request's field first (the config named), then the config's own key
    assert err.details().startswith("config 'tiny-multitask-lora': data.tasks[0].source."), err.details()


async def test_rank_above_generator_limit_is_failed_precondition(trainer) -> None:  # type: ignore[no-untyped-def]
    err = await _start_error(trainer, "smollm2-multitask-qlora-cpu", **{"method.lora.r": "16"})
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "method.lora.r" in err.details() and "max_lora_rank of 4" in err.details()
    assert err.details().startswith("overrides[method.lora.r]: method.lora.r: "), err.details()  # the override set it


async def test_missing_base_model_folder(trainer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    err = await _start_error(trainer, "tiny-multitask-lora", **{"model.base": str(tmp_path / "nope"),
                                                                "method.lora.r": "4"})
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and "model.base" in err.details()


async def test_nothing_was_queued_and_unknown_ids(trainer) -> None:  # type: ignore[no-untyped-def]
    await _start_error(trainer, "nope")
    assert list((await trainer.ListJobs(trainer_pb2.ListJobsRequest())).jobs) == []
    for call, req in [(trainer.GetJob, trainer_pb2.GetJobRequest(id="x")),
                      (trainer.CancelJob, trainer_pb2.CancelJobRequest(id="x"))]:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await call(req)
        assert info.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await trainer.ListJobs(trainer_pb2.ListJobsRequest(page_size=501))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "page_size" in info.value.details()


async def test_list_configs_gives_every_shipped_config_resolved(trainer) -> None:  # type: ignore[no-untyped-def]
    configs = {c.name: c for c in (await trainer.ListConfigs(trainer_pb2.ListConfigsRequest())).configs}
    assert list(configs) == sorted(configs)
    assert not any(name.startswith("_") for name in configs)
    cpu = configs["smollm2-multitask-qlora-cpu"]
    assert cpu.method == "qlora" and len(cpu.tasks) > 1
    assert configs["qwen2.5-coder-3b-multitask-full"].method == "full"
