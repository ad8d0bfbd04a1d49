"""Fault figures of the trainer: a real training job SIGKILLed mid-training, once by killing the whole
trainer service (restarted on its port and state dir) and once by killing only the job's worker
subprocess, at seeded random steps; the job must resume from its last whole checkpoint and end equal
to an uninterrupted job with the same seed.

Checked per job: it SUCCEEDED with every step, its final loss and evaluation metrics and its adapter
weights equal the uninterrupted job's bit for bit (CPU training with a seed is deterministic: every RNG,
the optimizer, the scheduler and the data position are in the checkpoint), each kill was followed by
a resume from exactly the newest whole checkpoint on disk at the kill (or from scratch when there was
none), the job record's state history and launch count match the kills, and every checkpoint left is
whole and loadable with no half-written temp folder left behind.

The job: the trainer's tiny test config (a tiny random Llama, two tasks, 12 steps) with a checkpoint
every 2 steps and a floor on each step's time, so kills land mid-run. Its translation task reads a
miniature Java/C# pair file written here (the datasets dir is not needed). Cost: two trainer services,
one uninterrupted job and one per kind, all three at once; each attempt is a worker start (torch and
the tiny model: 15-25 s at load 10+, the training itself 3 s), plus a service restart per service kill.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reliability.context import Context
from reliability.faults_replicas import Replica
from reliability.report import Section

CONFIG = "tiny-multitask-lora"
#: The config's train.max_steps (a job that ends at another step count is a problem of the figure).
STEPS = 12
CHECKPOINT_EVERY = 2
#: A floor on each step's wall time: the tiny model's steps take milliseconds, too fast to aim a kill at.
STEP_SECONDS = 0.25
#: One job's bound, start to end, kills and restarts included (it takes tens of seconds when loaded).
JOB_LIMIT_S = 600.0
TERMINAL = ("SUCCEEDED", "FAILED", "CANCELLED")


def overrides(base: Path) -> dict[str, str]:
    """The job's overrides of the tiny config (the same for the uninterrupted and the killed jobs)."""
    return {"model.base": str(base), "train.checkpoint_every": str(CHECKPOINT_EVERY),
            "train.min_step_seconds": str(STEP_SECONDS)}


def mini_datasets(root: Path) -> Path:
    """The Java/C# pair files the tiny config's translation task reads, in the datasets dir layout."""
    folder = root / "codexglue_code_to_code_trans"
    folder.mkdir(parents=True, exist_ok=True)
    java = [f"public int get{i}() {{ return value{i} + {i}; }}" for i in range(40)]
    cs = [f"public int Get{i}() {{ return Value{i} + {i}; }}" for i in range(40)]
    (folder / "valid.java-cs.txt.java").write_text("\n".join(java) + "\n")
    (folder / "valid.java-cs.txt.cs").write_text("\n".join(cs) + "\n")
    return root


def read_events(path: Path) -> list[dict[str, Any]]:
    """A job's events.jsonl (whole lines only: a half-written last line is left for later)."""
    try:
        data = path.read_bytes()
    except OSError:
        return []
    return [json.loads(line) for line in data[: data.rfind(b"\n") + 1].splitlines() if line.strip()]


def current_attempt(events: list[dict[str, Any]]) -> tuple[int, list[dict[str, Any]]]:
    """The worker pid of the latest launch (0 before any) and the events since it."""
    for i in range(len(events) - 1, -1, -1):
        ev = events[i]
        if ev["kind"] == "message" and ev["text"].startswith("worker pid "):
            return int(ev["text"].split()[2]), events[i + 1:]
    return 0, []


def progress_step(events: list[dict[str, Any]]) -> int:
    return max((ev["step"] for ev in events if ev["kind"] == "progress"), default=0)


def kill_steps(rng: random.Random, steps: int, kills: int) -> list[int]:
    """Seeded, strictly increasing steps to kill at, each after the first checkpoint's step and before
    the last step, spread so every kill has room."""
    out: list[int] = []
    prev = CHECKPOINT_EVERY - 1
    for i in range(kills):
        room = steps - 1 - prev
        if room < 1:
            break
        k = rng.randint(prev + 1, prev + max(1, room // (kills - i)))
        out.append(k)
        prev = k
    return out


@dataclass
class Kill:
    """One injected kill: the step it was aimed at, the step the job had reached, and the newest whole
    checkpoint on disk just after it (0: none)."""

    aimed: int
    reached: int
    checkpoint: int


@dataclass
class JobRun:
    """A job as the figure saw it: its final record (GetJob's fields as a dict), its events, its folder."""

    record: dict[str, Any]
    events: list[dict[str, Any]]
    folder: Path
    kills: list[Kill] = field(default_factory=list)


def job_problems(got: JobRun, ref: JobRun) -> list[str]:
    """How a killed job falls short of the uninterrupted one (empty: it resumed and ended equal)."""
    rec, want = got.record, ref.record
    problems = []
    if rec["state"] != "SUCCEEDED":
        return [f"the job ended {rec['state']}: {rec.get('error') or 'no error recorded'}"]
    if (rec["step"], rec["total_steps"]) != (want["step"], want["total_steps"]):
        problems.append(f"ended at step {rec['step']}/{rec['total_steps']}, the uninterrupted job at "
                        f"{want['step']}/{want['total_steps']}")
    if rec["loss"] != want["loss"]:
        problems.append(f"final loss {rec['loss']!r} differs from the uninterrupted {want['loss']!r}")
    if rec["metrics"] != want["metrics"]:
        keys = sorted(k for k in set(rec["metrics"]) | set(want["metrics"])
                      if rec["metrics"].get(k) != want["metrics"].get(k))
        problems.append(f"metrics differ from the uninterrupted job's: {', '.join(keys)}")
    states = [ev["job"]["state"] for ev in got.events if ev["kind"] == "state"]
    expected = ["QUEUED"] + ["RUNNING", "QUEUED"] * len(got.kills) + ["RUNNING", "SUCCEEDED"]
    if states != expected:
        problems.append(f"state history {' > '.join(states)}, expected {' > '.join(expected)}")
    last: dict[str, Any] = next((ev["job"] for ev in reversed(got.events) if ev["kind"] == "state"), {})
    if last.get("attempts") != len(got.kills) + 1:
        problems.append(f"the record counts {last.get('attempts')} attempts for {len(got.kills)} kills")
    resumed = [int(ev["text"].split("step-")[1].split()[0]) for ev in got.events
               if ev["kind"] == "message" and ev["text"].startswith("resumed from step-")]
    wanted = [k.checkpoint for k in got.kills if k.checkpoint]
    if resumed != wanted:
        problems.append(f"resumed from steps {resumed}, but the newest whole checkpoints at the kills were {wanted}")
    if rec["resumed_from_step"] != (wanted[-1] if wanted else 0):
        problems.append(f"the record says resumed from step {rec['resumed_from_step']}, the last resume was from "
                        f"{wanted[-1] if wanted else 'none'}")
    return problems


def checkpoint_problems(root: Path) -> list[str]:
    """Every checkpoint folder whole and loadable, its state.json naming its step; no temp folder left."""
    import torch

    problems = [f"half-written checkpoint left: {p.name}" for p in sorted(root.glob(".step-*"))]
    folders = sorted(root.glob("step-*"))
    if not folders:
        problems.append(f"no checkpoint in {root}")
    for folder in folders:
        try:
            state = json.loads((folder / "state.json").read_text())
            if state.get("step") != int(folder.name.removeprefix("step-")):
                problems.append(f"{folder.name}: state.json says step {state.get('step')}")
            for name in ("trainable.pt", "optimizer.pt", "scheduler.pt", "rng-rank0.pt"):
                torch.load(folder / name, map_location="cpu", weights_only=False)
        except Exception as exc:  # noqa: BLE001 - any failure to read back is a damaged checkpoint
            problems.append(f"{folder.name} does not load: {type(exc).__name__}: {exc}"[:300])
    return problems


def weights_difference(got: Path, ref: Path) -> str | None:
    """How two adapters' weight files differ (None: the same tensors, bit for bit)."""
    import torch
    from safetensors.torch import load_file

    a, b = load_file(str(got / "adapter_model.safetensors")), load_file(str(ref / "adapter_model.safetensors"))
    if a.keys() != b.keys():
        return f"other tensors: {sorted(a.keys() ^ b.keys())[:3]}"
    unequal = [k for k in a if not torch.equal(a[k], b[k])]
    if not unequal:
        return None
    worst = max(float((a[k].float() - b[k].float()).abs().max()) for k in unequal if a[k].shape == b[k].shape) \
        if all(a[k].shape == b[k].shape for k in unequal) else float("nan")
    return f"{len(unequal)} of {len(a)} tensors differ (max abs difference {worst:.3g})"


class Trainer:
    """The real trainer service on loopback (its own port, state dir and datasets dir) and a stub."""

    def __init__(self, ctx: Context, folder: Path, max_restarts: int, max_concurrent: int) -> None:
        from codeeval.api.trainer.v1 import trainer_pb2, trainer_pb2_grpc
        from codeeval.kit.client import open_channel

        self.pb, self.folder = trainer_pb2, folder
        state = folder / "state"
        state.mkdir(parents=True, exist_ok=True)
        self.state = state
        self.replica = Replica("trainer", 0, folder, {"state_dir": str(state), "max_restarts": max_restarts,
                                                      "datasets_dir": str(mini_datasets(folder / "datasets")),
                                                      "max_concurrent_jobs": max_concurrent,
                                                      "poll_seconds": 0.1})
        self.replica.local.start(timeout=300)
        self._stack = contextlib.ExitStack()
        channel = self._stack.enter_context(open_channel(ctx.check_loopback(self.replica.address)))
        self.stub = trainer_pb2_grpc.TrainerServiceStub(channel)

    def close(self) -> None:
        self._stack.close()
        self.replica.stop()

    def submit(self, base: Path, name: str) -> str:
        req = self.pb.StartTrainingRequest(config=CONFIG, overrides=overrides(base), name=name)
        return str(self.stub.StartTraining(req, timeout=60).job.id)

    def events(self, job_id: str) -> list[dict[str, Any]]:
        return read_events(self.state / "jobs" / job_id / "events.jsonl")

    def record(self, job_id: str) -> dict[str, Any] | None:
        """GetJob's answer as a dict; None while the service is unreachable (restarting)."""
        import grpc

        try:
            job = self.stub.GetJob(self.pb.GetJobRequest(id=job_id), timeout=10).job
        except grpc.RpcError as exc:
            if exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                return None
            raise
        return {"state": self.pb.JobState.Name(job.state).removeprefix("JOB_STATE_"), "step": job.step,
                "total_steps": job.total_steps, "loss": job.loss, "metrics": dict(job.metrics),
                "resumed_from_step": job.resumed_from_step, "error": job.error, "artifact": job.artifact.path}

    def wait_end(self, job_id: str, deadline: float) -> JobRun:
        while True:
            rec = self.record(job_id)
            if rec is not None and rec["state"] in TERMINAL:
                return JobRun(rec, self.events(job_id), self.state / "jobs" / job_id)
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} not ended within {JOB_LIMIT_S:.0f}s (last: {rec})")
            time.sleep(0.2)

    def wait_step(self, job_id: str, step: int, deadline: float, after_pid: int = 0) -> tuple[int, int]:
        """Wait until the job's current attempt (a worker other than ``after_pid``, the one killed last)
        reports ``step``; (its worker pid, the step reached)."""
        while time.monotonic() < deadline:
            pid, since = current_attempt(self.events(job_id))
            reached = progress_step(since)
            if pid and pid != after_pid and reached >= step:
                return pid, reached
            time.sleep(0.05)
        raise TimeoutError(f"job {job_id} did not reach step {step} within {JOB_LIMIT_S:.0f}s")

    def kill_worker(self, pid: int) -> None:
        """SIGKILL the job's worker (checked to be this service's child), and wait until it is gone (at
        most 30 s)."""
        try:
            ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            return  # already gone
        if ppid != self.replica.pid:
            raise RuntimeError(f"pid {pid} is not the trainer's worker (its parent is {ppid})")
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30.0
        while Path(f"/proc/{pid}").exists() and _state(pid) != "Z":
            if time.monotonic() > deadline:
                raise TimeoutError(f"the worker {pid} still runs 30 s after SIGKILL (state {_state(pid)})")
            time.sleep(0.02)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "gone"


def _newest_checkpoint(job_dir: Path) -> int:
    from codeeval.trainer import checkpoint

    latest = checkpoint.latest(job_dir / "checkpoints")
    return int(latest.name.removeprefix("step-")) if latest is not None else 0


def killed_job(ctx: Context, trainer: Trainer, job_id: str, kind: str, kills: int, steps: int) -> JobRun:
    """Job ``job_id``'s ``kind`` ("service" or "worker") SIGKILLed at seeded steps, resumed each time."""
    rng = random.Random(f"{ctx.profile.seed}-trainer-{kind}")
    deadline = time.monotonic() + JOB_LIMIT_S
    done: list[Kill] = []
    pid = 0
    for step in kill_steps(rng, steps, kills):
        pid, reached = trainer.wait_step(job_id, step, deadline, after_pid=pid)
        if kind == "service":
            trainer.replica.kill()  # the whole process group: the worker dies with it
            done.append(Kill(step, reached, _newest_checkpoint(trainer.state / "jobs" / job_id)))
            trainer.replica.restart()
        else:
            trainer.kill_worker(pid)
            done.append(Kill(step, reached, _newest_checkpoint(trainer.state / "jobs" / job_id)))
    run = trainer.wait_end(job_id, deadline)
    run.kills = done
    return run


def section(kind: str, got: JobRun, ref: JobRun, seconds: float, seed: int) -> Section:
    """The figure of one kind of kill, from the killed job and the uninterrupted one."""
    problems = job_problems(got, ref)
    problems += checkpoint_problems(got.folder / "checkpoints")
    weights = "no adapter" if not got.record["artifact"] else weights_difference(
        Path(got.record["artifact"]), Path(ref.record["artifact"]))
    if weights:
        problems.append(f"adapter weights differ from the uninterrupted job's: {weights}")
    if len(got.kills) == 0:
        problems.append("no kill was injected")
    lost = int(got.record["state"] != "SUCCEEDED")
    what = "the trainer service (and its worker with it)" if kind == "service" else "the job's worker subprocess"
    return Section(
        title=f"the trainer {'service' if kind == 'service' else 'worker'} SIGKILLed mid-training, job resumed",
        service="trainer", area="fault", lost=lost, problems=problems, seconds=seconds,
        rows=[{"killed": what, "kills": len(got.kills),
               "resumed": sum(ev["kind"] == "state" and ev["job"]["state"] == "RUNNING" for ev in got.events) - 1,
               "resumed from steps": ", ".join(str(k.checkpoint) for k in got.kills) or "-",
               "steps": got.record["step"], "final loss equal": got.record["loss"] == ref.record["loss"],
               "adapter weights equal": weights is None, "checkpoints whole": not checkpoint_problems(
                   got.folder / "checkpoints"), "equal to uninterrupted": not problems, "lost": lost}],
        notes=[f"seed {seed}; killed at steps (aimed/reached) "
               + "; ".join(f"{k.aimed}/{k.reached}, newest checkpoint {k.checkpoint or 'none'}" for k in got.kills),
               f"config {CONFIG}, a checkpoint every {CHECKPOINT_EVERY} steps, each step at least {STEP_SECONDS}s; "
               f"the uninterrupted job's final loss {ref.record['loss']:.6f}"])


def run(ctx: Context, base: Path, kills: int) -> list[Section]:
    """Three jobs at once on two trainer services: on one, the uninterrupted job beside the job whose
    worker is killed (a worker's death touches only its own job); on the other, alone, the job whose
    service is killed (the service's death takes every job it runs with it)."""
    folder = ctx.workdir / "trainer-kills"
    with ThreadPoolExecutor(2) as pool:
        starts = [pool.submit(Trainer, ctx, folder / name, kills + 1, jobs) for name, jobs in (("a", 2), ("b", 1))]
        trainers = [f.result() for f in starts if f.exception() is None]
        try:
            failed = [exc for f in starts if (exc := f.exception()) is not None]
            if failed:
                raise failed[0]
            beside, alone = trainers
            t0 = time.monotonic()
            ref_id, worker_id = beside.submit(base, "uninterrupted"), beside.submit(base, "killed-worker")
            service = pool.submit(killed_job, ctx, alone, alone.submit(base, "killed-service"), "service", kills,
                                  STEPS)
            got_worker = killed_job(ctx, beside, worker_id, "worker", kills, STEPS)
            ref = beside.wait_end(ref_id, time.monotonic() + JOB_LIMIT_S)
            got_service = service.result()
            if ref.record["state"] != "SUCCEEDED":
                raise RuntimeError(f"the uninterrupted job ended {ref.record['state']}: {ref.record['error']}")
            took = time.monotonic() - t0
            return [section("service", got_service, ref, took, ctx.profile.seed),
                    section("worker", got_worker, ref, took, ctx.profile.seed)]
        finally:
            for trainer in trainers:
                trainer.close()
