"""Bootstrap glue for ``codeeval serve trainer``: settings, the job manager, the servicer.

A job manager that cannot start (a state dir it cannot write) or a scheduler that stopped before the
service was first ready ends the start at once with the reason (:mod:`codeeval.kit.startup`)."""

from __future__ import annotations

import os

import grpc

from codeeval.api.trainer.v1 import trainer_pb2_grpc
from codeeval.clients.generator import TrainerGeneratorLink
from codeeval.kit.server import Service
from codeeval.kit.startup import FatalStartupError
from codeeval.trainer.jobs import JobManager
from codeeval.trainer.servicer import TrainerServicer
from codeeval.trainer.settings import TrainerSettings

SETTINGS = TrainerSettings


def create(settings: TrainerSettings) -> Service:
    worker_env = {"OMP_NUM_THREADS": str(settings.compute_threads)}
    if settings.datasets_dir is not None:
        worker_env["CODEEVAL_DATASETS_DIR"] = str(settings.datasets_dir)
        os.environ["CODEEVAL_DATASETS_DIR"] = str(settings.datasets_dir)
    manager = JobManager(settings.state_dir, max_concurrent=settings.max_concurrent_jobs,
                         max_restarts=settings.max_restarts, generator=TrainerGeneratorLink(settings.generator_addr),
                         poll_seconds=settings.poll_seconds, worker_env=worker_env)

    def register(server: grpc.aio.Server) -> None:
        trainer_pb2_grpc.add_TrainerServiceServicer_to_server(TrainerServicer(manager), server)

    async def readiness() -> str | None:
        scheduler = manager._scheduler
        if scheduler is None:
            return "job scheduler not running"
        if scheduler.done():  # it never restarts: whatever ended it cannot heal
            error = None if scheduler.cancelled() else scheduler.exception()
            raise FatalStartupError(f"the job scheduler stopped: {type(error).__name__ if error else 'cancelled'}"
                                    + (f": {error}" if error else "") + f" (state dir {settings.state_dir})")
        return None

    return Service(name="trainer", full_name="codeeval.trainer.v1.TrainerService", register=register,
                   readiness=readiness, start=manager.start, stop=manager.stop)
