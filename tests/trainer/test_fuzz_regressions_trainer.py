"""Found by the bad-input fuzzer (reliability.fuzz) on the real TrainerService, each answered INTERNAL
(or, for a long id echoed back, refused by the client as oversized metadata) before the fix: a config
name too long for the file system, a config name that is a path, an undefined JobState, a page token
past SQLite's integers, a 40,000-character job id. Each now gets a specific status naming the field."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import grpc
import pytest

from codeeval.api.trainer.v1 import trainer_pb2, trainer_pb2_grpc
from codeeval.kit.server import Runner
from codeeval.trainer.server import create
from codeeval.trainer.settings import TrainerSettings


@pytest.fixture
async def trainer(tmp_path: Path) -> AsyncIterator[trainer_pb2_grpc.TrainerServiceStub]:
    settings = TrainerSettings.model_validate({"state_dir": tmp_path / "state"})
    runner = Runner(create(settings), settings)
    await runner.start()
    await runner.wait_ready(10)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{runner.port}")
    yield trainer_pb2_grpc.TrainerServiceStub(channel)
    await channel.close()
    await runner.shutdown(grace=1)


async def _error(call) -> grpc.aio.AioRpcError:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    return info.value


@pytest.mark.parametrize("config", ["[" * 20_000, "x" * 300_000, "/etc/passwd", "../configs/x", "a\x00b", ".hidden"])
async def test_config_that_cannot_name_a_shipped_config_is_not_found(trainer, config: str) -> None:  # type: ignore[no-untyped-def]
    err = await _error(trainer.StartTraining(trainer_pb2.StartTrainingRequest(config=config), timeout=30))
    assert err.code() == grpc.StatusCode.NOT_FOUND, err.details()
    assert err.details().startswith("config: unknown training config"), err.details()
    assert len(err.details()) < 2000


@pytest.mark.parametrize("state", [-1, 99, 2**31 - 1])
async def test_list_jobs_with_an_undefined_state_is_invalid_argument(trainer, state: int) -> None:  # type: ignore[no-untyped-def]
    err = await _error(trainer.ListJobs(trainer_pb2.ListJobsRequest(state=cast(Any, state)), timeout=30))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.details() == f"state: {state} is not a JobState"


@pytest.mark.parametrize("token", ["99999999999999999999", "-1", "garbage"])
async def test_list_jobs_with_a_page_token_out_of_range_is_invalid_argument(trainer, token: str) -> None:  # type: ignore[no-untyped-def]
    err = await _error(trainer.ListJobs(trainer_pb2.ListJobsRequest(page_token=token), timeout=30))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.details().startswith("page_token: ")


async def test_a_huge_job_id_echoed_in_the_answer_is_cut_not_refused_by_the_client(trainer) -> None:  # type: ignore[no-untyped-def]
    err = await _error(trainer.GetJob(trainer_pb2.GetJobRequest(id="[" * 40_000), timeout=30))
    assert err.code() == grpc.StatusCode.NOT_FOUND, err.details()
    assert err.details().startswith("id: ") and err.details().endswith("characters in all)")
    assert len(err.details()) <= 2000
    assert (await trainer.ListJobs(trainer_pb2.ListJobsRequest(), timeout=30)).jobs is not None


async def test_a_non_ascii_id_echoed_in_the_answer_fits_the_clients_metadata_limit(trainer) -> None:  # type: ignore[no-untyped-def]
    # percent-encoded, each 'é' takes 6 bytes of metadata: cut by encoded size, not by characters
    err = await _error(trainer.GetJob(trainer_pb2.GetJobRequest(id="é" * 100_000), timeout=30))
    assert err.code() == grpc.StatusCode.NOT_FOUND, err.details()
    assert err.details().startswith("id: ") and err.details().endswith("characters in all)")
    encoded = sum(1 if " " <= c <= "~" and c != "%" else 3 * len(c.encode()) for c in err.details())
    assert encoded <= 2000


@pytest.mark.parametrize("value", ["[1", "{a: [", "'unclosed", "[" * 5000])
async def test_an_override_value_that_is_not_yaml_is_invalid_argument_naming_the_key(trainer, value: str) -> None:  # type: ignore[no-untyped-def]
    req = trainer_pb2.StartTrainingRequest(config="smollm2-multitask-qlora-cpu", overrides={"train.scheduler": value})
    err = await _error(trainer.StartTraining(req, timeout=30))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, err.details()
    assert err.details().startswith("overrides[train.scheduler]: "), err.details()
