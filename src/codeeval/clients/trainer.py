"""Typed client of the trainer service, for the main job: reusable jobs, StartTraining, WatchJob.
Cost: one RPC per call; ``watch`` holds a stream until the job ends."""

from __future__ import annotations

from collections.abc import Callable

from codeeval.api.trainer.v1 import trainer_pb2, trainer_pb2_grpc
from codeeval.clients.base import ServiceClient


class TrainerClient(ServiceClient[trainer_pb2_grpc.TrainerServiceStub]):
    service = "trainer"
    stub_class = trainer_pb2_grpc.TrainerServiceStub

    def succeeded_jobs(self, page_size: int = 100) -> list[trainer_pb2.Job]:
        resp = self.call(lambda stub: stub.ListJobs(
            trainer_pb2.ListJobsRequest(page_size=page_size, state=trainer_pb2.JOB_STATE_SUCCEEDED), timeout=30))
        return list(resp.jobs)

    def start_training(self, config: str, name: str) -> trainer_pb2.Job:
        resp = self.call(lambda stub: stub.StartTraining(trainer_pb2.StartTrainingRequest(config=config, name=name),
                                                         timeout=60))
        return resp.job

    def watch(self, job_id: str, on_progress: Callable[[trainer_pb2.Progress], None]) -> trainer_pb2.Job | None:
        """Follow the job to its end; the last job state seen (None if the stream sent none)."""
        final: list[trainer_pb2.Job] = []

        def handle(ev: trainer_pb2.WatchJobResponse) -> None:
            kind = ev.WhichOneof("event")
            if kind == "progress":
                on_progress(ev.progress)
            elif kind == "job":
                final.append(ev.job)

        self.stream(lambda stub: stub.WatchJob(trainer_pb2.WatchJobRequest(id=job_id)), handle)
        return final[-1] if final else None
