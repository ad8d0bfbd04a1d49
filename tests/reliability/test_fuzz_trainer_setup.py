"""The trainer's fuzz set-up on a machine without the datasets folder (a user's clone, CI's fresh
clone): the first listed config needs a public dataset and is refused, so the set-up probes the
list and the warm-up and the typical requests start the first config that can start here."""

from __future__ import annotations

import asyncio
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from codeeval.api.trainer.v1 import trainer_pb2, trainer_pb2_grpc
from codeeval.kit.server import Runner
from codeeval.trainer.server import create
from codeeval.trainer.settings import TrainerSettings
from reliability import fuzz_services
from reliability.context import Context
from reliability.report import PROFILES


@pytest.fixture
def trainer_addr(tmp_path: Path, monkeypatch) -> Iterator[str]:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CODEEVAL_DATASETS_DIR", str(tmp_path / "no-datasets"))
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()

    async def start() -> Runner:
        settings = TrainerSettings(state_dir=tmp_path / "state")
        runner = Runner(create(settings), settings)
        await runner.start()
        await runner.wait_ready(10)
        return runner

    runner = asyncio.run_coroutine_threadsafe(start(), loop).result(60)
    try:
        yield f"127.0.0.1:{runner.port}"
    finally:
        asyncio.run_coroutine_threadsafe(runner.shutdown(grace=1), loop).result(60)
        loop.call_soon_threadsafe(loop.stop)


def test_the_warm_up_starts_a_config_this_machine_can_start(trainer_addr: str) -> None:
    with tempfile.TemporaryDirectory() as tmp, grpc.insecure_channel(trainer_addr) as channel:
        stub = trainer_pb2_grpc.TrainerServiceStub(channel)
        listed = [c.name for c in stub.ListConfigs(trainer_pb2.ListConfigsRequest()).configs]
        with pytest.raises(grpc.RpcError) as refused:  # what the warm-up started before: the first listed
            stub.StartTraining(trainer_pb2.StartTrainingRequest(config=listed[0]))
        assert refused.value.code() == grpc.StatusCode.NOT_FOUND, refused.value.details()

        svc = fuzz_services.trainer(Context(PROFILES["short"], Path(tmp)))
        assert svc.setup is not None and svc.warm is not None
        svc.setup(svc, channel)
        first = svc.targets.typical["config"][0]
        assert first in listed and first != listed[0]
        probe = [i for i in svc.targets.typical["id"] if i != "no-such-job"]
        assert len(probe) == 1  # the probe's job, cancelled: its id is fuzzed as a real one
        assert stub.GetJob(trainer_pb2.GetJobRequest(id=probe[0])).job.config == first
        svc.warm(channel)  # three jobs of ``first`` started, cancelled and watched to their end
        jobs = stub.ListJobs(trainer_pb2.ListJobsRequest(page_size=10)).jobs
        assert sorted(j.name for j in jobs) == ["probe", "warm-0", "warm-1", "warm-2"]
        assert {j.config for j in jobs} == {first}
