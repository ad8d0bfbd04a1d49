"""Training jobs: admission, a queue, one worker subprocess per running job, restarts and cancel.

* A job's folder ``<state_dir>/jobs/<id>/`` holds config.json, events.jsonl, checkpoints/,
  artifact/, result.json and worker.log; its record lives in the SQLite :class:`JobStore`.
* A worker that dies without finishing (SIGKILL, OOM) is restarted from its last checkpoint up to
  ``max_restarts`` times; a service restart re-queues jobs that were running, which then resume.
* Cancel sends SIGTERM: the worker checkpoints at the next step boundary and exits (CANCELLED).
* State changes are appended to the job's event log as ``state`` events, so WatchJob replays a
  job's whole history from one file.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import json
import logging
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from codeeval.kit.errors import FailedPrecondition, InvalidArgument, NotFound
from codeeval.trainer.admission import GeneratorLink, admit
from codeeval.trainer.events import EventLog, read_from
from codeeval.trainer.store import TERMINAL, JobStore
from codeeval.trainer.worker import CANCELLED_EXIT

log = logging.getLogger("codeeval.trainer.jobs")


class JobManager:
    def __init__(self, state_dir: Path, *, max_concurrent: int = 1, max_restarts: int = 2,
                 generator: GeneratorLink | None = None, poll_seconds: float = 0.25,
                 worker_env: dict[str, str] | None = None) -> None:
        self.state_dir = state_dir
        self.store = JobStore(state_dir / "jobs.sqlite")
        self.max_concurrent = max_concurrent
        self.max_restarts = max_restarts
        self.generator = generator
        self.poll = poll_seconds
        self.worker_env = worker_env or {}
        self._procs: dict[str, asyncio.subprocess.Process] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._scheduler: asyncio.Task[None] | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        for job in self.store.in_states("RUNNING"):
            self._set_state(job["id"], "QUEUED", message="service restarted; the job resumes from its last checkpoint")
        self._scheduler = asyncio.create_task(self._schedule())

    async def stop(self) -> None:
        """Stop scheduling and terminate running workers (their jobs resume on the next start)."""
        if self._scheduler:
            self._scheduler.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for proc in list(self._procs.values()):
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        self.store.close()

    def job_dir(self, job_id: str) -> Path:
        return self.state_dir / "jobs" / job_id

    # -- API ---------------------------------------------------------------------------------
    def submit(self, config: str, overrides: dict[str, str], name: str = "") -> dict[str, Any]:
        cfg = admit(config, overrides, self.generator)
        job_id = uuid.uuid4().hex[:12]
        job_dir = self.job_dir(job_id)
        job_dir.mkdir(parents=True)
        (job_dir / "config.json").write_text(json.dumps(cfg.model_dump(mode="json"), indent=1))
        job = {"id": job_id, "name": name, "config": config, "overrides": dict(overrides), "state": "QUEUED",
               "created_at": time.time(), "started_at": None, "finished_at": None, "step": 0, "total_steps": 0,
               "loss": 0.0, "error": "", "artifact": None, "cost": None, "mixture": [], "metrics": {},
               "resumed_from_step": 0, "attempts": 0, "cancel_requested": False,
               "load_into_generator": cfg.output.load_into_generator,
               "adapter_name": cfg.output.adapter_name or f"{config}-{job_id}"}
        self.store.insert(job)
        EventLog(job_dir / "events.jsonl").emit("state", job=job)
        self._wake.set()
        return job

    def get(self, job_id: str) -> dict[str, Any]:
        job = self.store.get(job_id)
        if job is None:
            raise NotFound(f"no job {job_id!r}", field="id")
        return job

    def list(self, state: str | None, page_size: int, page_token: str) -> tuple[list[dict[str, Any]], str]:
        if page_size > 500:
            raise InvalidArgument(f"{page_size} exceeds the maximum of 500", field="page_size")
        size = page_size or 50
        try:
            after = int(page_token) if page_token else 0
            if not 0 <= after < 2**63:
                raise ValueError(page_token)
        except ValueError:
            raise InvalidArgument("not a token from a previous ListJobs", field="page_token") from None
        rows = self.store.list(state=state, after_seq=after, limit=size + 1)
        token = str(rows[size - 1][0]) if len(rows) > size else ""
        return [job for _, job in rows[:size]], token

    def cancel(self, job_id: str) -> dict[str, Any]:
        job = self.get(job_id)
        if job["state"] in TERMINAL:
            raise FailedPrecondition(f"job {job_id} already ended ({job['state']})", field="id")
        if job["state"] == "QUEUED" and job_id not in self._procs:
            return self._set_state(job_id, "CANCELLED", finished_at=time.time(), cancel_requested=True,
                                   message="cancelled before it started")
        job = self.store.update(job_id, cancel_requested=True)
        proc = self._procs.get(job_id)
        if proc is not None and proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        return job

    async def watch(self, job_id: str) -> AsyncIterator[dict[str, Any]]:
        """Every event of the job from the start, then live ones, until a terminal state event."""
        self.get(job_id)
        path, offset = self.job_dir(job_id) / "events.jsonl", 0
        while True:
            events, offset = read_from(path, offset)
            for event in events:
                yield event
                if event["kind"] == "state" and event["job"]["state"] in TERMINAL:
                    return
            if not events:
                await asyncio.sleep(self.poll)

    # -- internals ---------------------------------------------------------------------------
    def _set_state(self, job_id: str, state: str, message: str = "", **changes: Any) -> dict[str, Any]:
        job = self.store.update(job_id, state=state, **changes)
        events = EventLog(self.job_dir(job_id) / "events.jsonl")
        if message:
            events.message(message)
        events.emit("state", job=job)
        events.close()
        return job

    async def _schedule(self) -> None:
        while True:
            running = sum(1 for p in self._procs.values() if p.returncode is None)
            for job in self.store.in_states("QUEUED")[: max(0, self.max_concurrent - running)]:
                await self._launch(job)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=1.0)

    async def _launch(self, job: dict[str, Any]) -> None:
        job_dir = self.job_dir(job["id"])
        for stale in ("result.json", "error.json"):
            (job_dir / stale).unlink(missing_ok=True)
        out = open(job_dir / "worker.log", "ab")  # noqa: SIM115 - handed to the child
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "codeeval.trainer.worker", str(job_dir), stdout=out, stderr=out,
            env={**os.environ, **self.worker_env})
        out.close()
        self._procs[job["id"]] = proc
        self._set_state(job["id"], "RUNNING", started_at=job["started_at"] or time.time(),
                        attempts=job["attempts"] + 1, message=f"worker pid {proc.pid} started")
        task = asyncio.create_task(self._follow(job["id"], proc))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _follow(self, job_id: str, proc: asyncio.subprocess.Process) -> None:
        path, offset = self.job_dir(job_id) / "events.jsonl", 0
        wait = asyncio.create_task(proc.wait())
        while True:
            done = wait.done()
            events, offset = read_from(path, offset)
            self._absorb(job_id, events)
            if done:
                break
            await asyncio.wait({wait}, timeout=self.poll)
        self._procs.pop(job_id, None)
        await self._finish(job_id, proc.returncode or 0)
        self._wake.set()

    def _absorb(self, job_id: str, events: builtins.list[dict[str, Any]]) -> None:
        changes: dict[str, Any] = {}
        for ev in events:
            if ev["kind"] == "progress":
                changes.update(step=ev["step"], total_steps=ev["total_steps"], loss=ev["loss"])
            elif ev["kind"] == "mixture":
                changes["mixture"] = ev["counts"]
            elif ev["kind"] == "evaluation":
                changes["metrics"] = ev["metrics"]
            elif ev["kind"] == "message" and ev["text"].startswith("resumed from step-"):
                changes["resumed_from_step"] = int(ev["text"].split("step-")[1].split()[0])
        if changes:
            self.store.update(job_id, **changes)

    async def _finish(self, job_id: str, rc: int) -> None:
        job, job_dir = self.get(job_id), self.job_dir(job_id)
        now = time.time()
        if rc == 0 and (job_dir / "result.json").exists():
            result = json.loads((job_dir / "result.json").read_text())
            changes = {"artifact": result["artifact"], "cost": result["cost"], "metrics": result["metrics"],
                       "mixture": result["mixture"], "total_steps": result["total_steps"],
                       "loss": result["metrics"].get("train_loss") or job["loss"]}
            message = f"finished ({result['outcome']})"
            if job["load_into_generator"] and self.generator is not None:
                try:
                    message += "; " + await asyncio.to_thread(self.generator.load_adapter, job["adapter_name"],
                                                              result["artifact"]["path"])
                except Exception as exc:  # noqa: BLE001 - the job succeeded; loading is reported, not fatal
                    message += f"; loading into the generator failed: {exc}"
            self._set_state(job_id, "SUCCEEDED", message=message, finished_at=now, **changes)
        elif rc == CANCELLED_EXIT or job["cancel_requested"]:
            self._set_state(job_id, "CANCELLED", message="cancelled; last checkpoint kept", finished_at=now)
        elif rc < 0 and job["attempts"] <= self.max_restarts:
            sig = signal.Signals(-rc).name
            self._set_state(job_id, "QUEUED", message=f"worker killed by {sig}; resuming from the last checkpoint")
        else:
            error = f"worker exited with code {rc}"
            if (job_dir / "error.json").exists():
                error = json.loads((job_dir / "error.json").read_text())["error"]
            self._set_state(job_id, "FAILED", message=error, finished_at=now, error=error)
