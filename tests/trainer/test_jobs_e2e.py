"""Jobs end to end on the tiny Llama: real service (in process), real worker subprocesses.

SIGKILL of a worker -> restarted from its last checkpoint and ends at the uninterrupted loss;
cancel keeps the last checkpoint; a service restart keeps the job list and resumes a running job.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from codeeval.api.trainer.v1 import trainer_pb2, trainer_pb2_grpc
from codeeval.kit.server import Runner
from codeeval.trainer.server import create
from codeeval.trainer.settings import TrainerSettings

pytestmark = [pytest.mark.slow, pytest.mark.integration]
S = trainer_pb2.JobState


class Service:
    def __init__(self, state_dir: Path) -> None:
        self.settings = TrainerSettings(state_dir=state_dir, poll_seconds=0.1)
        self.runner = Runner(create(self.settings), self.settings)

    async def __aenter__(self) -> trainer_pb2_grpc.TrainerServiceStub:
        await self.runner.start()
        await self.runner.wait_ready(10)
        self.channel = grpc.aio.insecure_channel(f"127.0.0.1:{self.runner.port}")
        return trainer_pb2_grpc.TrainerServiceStub(self.channel)

    async def __aexit__(self, *exc: object) -> None:
        await self.channel.close()
        await self.runner.shutdown(grace=1)


def _overrides(tiny_model: Path, **extra: str) -> dict[str, str]:
    return {"model.base": str(tiny_model), **extra}


async def _events(stub, job_id: str) -> AsyncIterator[trainer_pb2.WatchJobResponse]:  # type: ignore[no-untyped-def]
    async for ev in stub.WatchJob(trainer_pb2.WatchJobRequest(id=job_id), timeout=300):
        yield ev


async def _wait_end(stub, job_id: str) -> trainer_pb2.Job:  # type: ignore[no-untyped-def]
    last = None
    async for ev in _events(stub, job_id):
        if ev.WhichOneof("event") == "job":
            last = ev.job
    assert last is not None
    return last


async def _wait_checkpoint_and_pid(stub, job_id: str, step: int) -> int:  # type: ignore[no-untyped-def]
    pid = 0
    async for ev in _events(stub, job_id):
        if ev.message.startswith("worker pid "):
            pid = int(ev.message.split()[2])
        if ev.message == f"checkpoint saved at step {step}":
            return pid
    raise AssertionError("job ended before the checkpoint")


async def test_sigkill_resume_matches_uninterrupted_and_restart_keeps_jobs(tiny_model: Path, tmp_path: Path) -> None:
    async with Service(tmp_path / "state") as stub:
        ref = (await stub.StartTraining(trainer_pb2.StartTrainingRequest(
            config="tiny-multitask-lora", overrides=_overrides(tiny_model), name="reference"))).job
        ref_done = await _wait_end(stub, ref.id)
        assert ref_done.state == S.JOB_STATE_SUCCEEDED and ref_done.step == 12
        assert ref_done.artifact.template == "smollm2" and ref_done.cost.trainable_parameters > 0
        assert {c.task for c in ref_done.mixture} == {"translate-java-cs", "summarize-python"}

        job = (await stub.StartTraining(trainer_pb2.StartTrainingRequest(
            config="tiny-multitask-lora", overrides=_overrides(tiny_model, **{"train.min_step_seconds": "0.4"})))).job
        pid = await _wait_checkpoint_and_pid(stub, job.id, 4)
        os.kill(pid, signal.SIGKILL)
        done = await _wait_end(stub, job.id)
        assert done.state == S.JOB_STATE_SUCCEEDED, done.error
        assert done.resumed_from_step >= 4
        assert done.loss == pytest.approx(ref_done.loss, rel=1e-4)
        assert done.metrics["eval_loss"] == pytest.approx(ref_done.metrics["eval_loss"], rel=1e-4)
        messages = [ev.message async for ev in _events(stub, job.id) if ev.message]
        assert any("killed by SIGKILL" in m for m in messages)

        running = (await stub.StartTraining(trainer_pb2.StartTrainingRequest(
            config="tiny-multitask-lora", overrides=_overrides(tiny_model, **{"train.min_step_seconds": "0.4"})))).job
        await _wait_checkpoint_and_pid(stub, running.id, 4)
    # service stopped while the job ran; a new one over the same state keeps the list and resumes it
    async with Service(tmp_path / "state") as stub:
        listed = (await stub.ListJobs(trainer_pb2.ListJobsRequest())).jobs
        assert [j.id for j in listed] == [running.id, job.id, ref.id]
        resumed = await _wait_end(stub, running.id)
        assert resumed.state == S.JOB_STATE_SUCCEEDED and resumed.resumed_from_step >= 4
        assert resumed.loss == pytest.approx(ref_done.loss, rel=1e-4)
        page = await stub.ListJobs(trainer_pb2.ListJobsRequest(page_size=2))
        rest = await stub.ListJobs(trainer_pb2.ListJobsRequest(page_size=2, page_token=page.next_page_token))
        assert [j.id for j in [*page.jobs, *rest.jobs]] == [running.id, job.id, ref.id]


async def test_cancel_keeps_last_checkpoint(tiny_model: Path, tmp_path: Path) -> None:
    async with Service(tmp_path / "state") as stub:
        job = (await stub.StartTraining(trainer_pb2.StartTrainingRequest(
            config="tiny-multitask-lora", overrides=_overrides(tiny_model, **{"train.min_step_seconds": "0.4"})))).job
        await _wait_checkpoint_and_pid(stub, job.id, 4)
        cancelled = (await stub.CancelJob(trainer_pb2.CancelJobRequest(id=job.id))).job
        assert cancelled.state == S.JOB_STATE_RUNNING
        done = await _wait_end(stub, job.id)
        assert done.state == S.JOB_STATE_CANCELLED and 4 <= done.step < 12
        ckpts = sorted(p.name for p in (tmp_path / "state" / "jobs" / job.id / "checkpoints").glob("step-*"))
        assert ckpts and ckpts[-1] == f"step-{done.step:06d}"
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.CancelJob(trainer_pb2.CancelJobRequest(id=job.id))
        assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        await asyncio.sleep(0)
