"""TrainerService servicer: translates messages to and from the :class:`JobManager`; no logic."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from codeeval.api.trainer.v1 import trainer_pb2, trainer_pb2_grpc
from codeeval.kit.errors import InvalidArgument, require
from codeeval.trainer.jobs import JobManager
from codeeval.trainer.recipe_schema import list_configs, load_config


def _ts(seconds: float | None) -> Timestamp | None:
    if not seconds:
        return None
    ts = Timestamp()
    ts.FromNanoseconds(int(seconds * 1e9))
    return ts


def job_message(job: dict[str, Any]) -> trainer_pb2.Job:
    msg = trainer_pb2.Job(
        id=job["id"], name=job["name"], config=job["config"], overrides=job["overrides"],
        state=trainer_pb2.JobState.Value(f"JOB_STATE_{job['state']}"), step=job["step"],
        total_steps=job["total_steps"], loss=job["loss"] or 0.0, error=job["error"],
        resumed_from_step=job["resumed_from_step"],
        metrics={k: float(v) for k, v in (job["metrics"] or {}).items() if v is not None},
        mixture=[trainer_pb2.TaskCount(**c) for c in job["mixture"]],
    )
    for field in ("created_at", "started_at", "finished_at"):
        ts = _ts(job[field])
        if ts is not None:
            getattr(msg, field).CopyFrom(ts)
    if job["artifact"]:
        msg.artifact.CopyFrom(trainer_pb2.Artifact(**job["artifact"]))
    if job["cost"]:
        msg.cost.CopyFrom(trainer_pb2.Cost(**{k: (int(v) if k != "wall_seconds" and k != "tokens_per_second" else v)
                                              for k, v in job["cost"].items()}))
    return msg


def event_message(job_id: str, event: dict[str, Any]) -> trainer_pb2.WatchJobResponse:
    resp = trainer_pb2.WatchJobResponse(job_id=job_id, time=_ts(event["time"]))
    kind = event["kind"]
    if kind == "progress":
        resp.progress.CopyFrom(trainer_pb2.Progress(**{k: event[k] for k in (
            "step", "total_steps", "epoch", "loss", "learning_rate", "tokens_per_second", "eta_seconds")}))
    elif kind == "evaluation":
        resp.evaluation.CopyFrom(trainer_pb2.Evaluation(step=event["step"], metrics=event["metrics"]))
    elif kind == "state":
        resp.job.CopyFrom(job_message(event["job"]))
    elif kind == "mixture":
        resp.message = "mixture " + ", ".join(f"{c['task']}={c['effective']}" for c in event["counts"])
    else:
        resp.message = event.get("text", "")
    return resp


class TrainerServicer(trainer_pb2_grpc.TrainerServiceServicer):
    def __init__(self, manager: JobManager) -> None:
        self.manager = manager

    async def StartTraining(self, request: trainer_pb2.StartTrainingRequest,  # noqa: N802
                            context: grpc.aio.ServicerContext) -> trainer_pb2.StartTrainingResponse:
        require(bool(request.config), "config", "required (see `codeeval train --list`)")
        job = await asyncio.to_thread(self.manager.submit, request.config, dict(request.overrides), request.name)
        return trainer_pb2.StartTrainingResponse(job=job_message(job))

    async def WatchJob(self, request: trainer_pb2.WatchJobRequest,  # noqa: N802
                       context: grpc.aio.ServicerContext) -> AsyncIterator[trainer_pb2.WatchJobResponse]:
        async for event in self.manager.watch(request.id):
            yield event_message(request.id, event)

    async def GetJob(self, request: trainer_pb2.GetJobRequest,  # noqa: N802
                     context: grpc.aio.ServicerContext) -> trainer_pb2.GetJobResponse:
        return trainer_pb2.GetJobResponse(job=job_message(self.manager.get(request.id)))

    async def ListJobs(self, request: trainer_pb2.ListJobsRequest,  # noqa: N802
                       context: grpc.aio.ServicerContext) -> trainer_pb2.ListJobsResponse:
        if request.state not in trainer_pb2.JobState.values():
            raise InvalidArgument(f"{request.state} is not a JobState", field="state")
        state = trainer_pb2.JobState.Name(request.state).removeprefix("JOB_STATE_") if request.state else None
        jobs, token = self.manager.list(state, request.page_size, request.page_token)
        return trainer_pb2.ListJobsResponse(jobs=[job_message(j) for j in jobs], next_page_token=token)

    async def CancelJob(self, request: trainer_pb2.CancelJobRequest,  # noqa: N802
                        context: grpc.aio.ServicerContext) -> trainer_pb2.CancelJobResponse:
        return trainer_pb2.CancelJobResponse(job=job_message(self.manager.cancel(request.id)))

    async def ListConfigs(self, request: trainer_pb2.ListConfigsRequest,  # noqa: N802
                          context: grpc.aio.ServicerContext) -> trainer_pb2.ListConfigsResponse:
        """Every shipped config resolved (``extends`` merged): milliseconds per config."""
        def configs() -> list[trainer_pb2.TrainingConfig]:
            return [trainer_pb2.TrainingConfig(name=name, method=cfg.method.kind,
                                               tasks=[t.name for t in cfg.data.tasks])
                    for name in list_configs() for cfg in [load_config(name)]]

        return trainer_pb2.ListConfigsResponse(configs=await asyncio.to_thread(configs))
