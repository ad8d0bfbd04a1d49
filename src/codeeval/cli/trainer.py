"""``codeeval train`` and ``codeeval jobs list|get|watch|cancel``: the trainer service's CLI.

Talks to ``$CODEEVAL_TRAINER_ADDR``; without it a local trainer is started for the duration of the
command (so ``train`` then always watches: the job would die with the local service).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import grpc
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from codeeval.cli._rpc import call_service
from codeeval.kit.client import service_address

_console = Console(stderr=True)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("train", help="start a training job from a shipped config")
    p.add_argument("--config", help="config name (see --list)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="whitelisted override, repeatable")
    p.add_argument("--name", default="", help="a label for the job")
    p.add_argument("--watch", action="store_true", help="follow progress until the job ends")
    p.add_argument("--list", action="store_true", help="list the trainer's shipped configs and exit")
    p.set_defaults(func=_train)

    jobs = sub.add_parser("jobs", help="training jobs: list, get, watch, cancel")
    jsub = jobs.add_subparsers(dest="jobs_command", required=True, metavar="ACTION")
    p = jsub.add_parser("list", help="jobs, newest first")
    p.add_argument("--state", choices=["queued", "running", "succeeded", "failed", "cancelled"])
    p.add_argument("--limit", type=int, default=50)
    p.set_defaults(func=_list)
    for action, helptext in (("get", "one job in full"), ("watch", "follow a job's progress"),
                             ("cancel", "stop a job (its last checkpoint is kept)")):
        p = jsub.add_parser(action, help=helptext)
        p.add_argument("id")
        p.set_defaults(func={"get": _get, "watch": _watch_cmd, "cancel": _cancel}[action])


def _api() -> tuple[Any, Any]:
    from codeeval.api.trainer.v1 import trainer_pb2, trainer_pb2_grpc

    return trainer_pb2, trainer_pb2_grpc


def _call(fn: Any) -> int:
    return call_service("trainer", fn, _console)


def _state(job: Any) -> str:
    pb, _ = _api()
    return str(pb.JobState.Name(job.state)).removeprefix("JOB_STATE_").lower()


def _train(args: argparse.Namespace) -> int:
    if args.list:
        def configs(channel: grpc.Channel) -> int:
            pb, stubs = _api()
            for cfg in stubs.TrainerServiceStub(channel).ListConfigs(pb.ListConfigsRequest(), timeout=60).configs:
                print(f"{cfg.name:40s} {cfg.method:6s} {','.join(cfg.tasks)}")
            return 0

        return _call(configs)
    if not args.config:
        _console.print("[red]error:[/] --config is required (see codeeval train --list)")
        return 2
    bad = [s for s in args.set if "=" not in s]
    if bad:
        _console.print(f"[red]error:[/] --set {bad[0]!r}: expected KEY=VALUE")
        return 2
    overrides = dict(s.split("=", 1) for s in args.set)
    watch = args.watch or service_address("trainer") is None

    def start(channel: grpc.Channel) -> int:
        pb, stubs = _api()
        stub = stubs.TrainerServiceStub(channel)
        job = stub.StartTraining(pb.StartTrainingRequest(config=args.config, overrides=overrides, name=args.name),
                                 timeout=60).job
        print(job.id)
        _console.print(f"job {job.id} queued ({args.config})")
        return _follow(stub, job.id) if watch else 0

    return _call(start)


def _follow(stub: Any, job_id: str) -> int:
    pb, _ = _api()
    final = None
    columns = [TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TextColumn("loss {task.fields[loss]}"), TextColumn("lr {task.fields[lr]}"),
               TextColumn("{task.fields[tps]} tok/s"), TextColumn("ETA {task.fields[eta]}"), TimeElapsedColumn()]
    with Progress(*columns, console=_console) as progress:
        bar = progress.add_task(f"job {job_id}", total=None, loss="-", lr="-", tps="-", eta="-")
        for ev in stub.WatchJob(pb.WatchJobRequest(id=job_id)):
            kind = ev.WhichOneof("event")
            if kind == "progress":
                p = ev.progress
                progress.update(bar, completed=p.step, total=p.total_steps, loss=f"{p.loss:.4f}",
                                lr=f"{p.learning_rate:.2e}", tps=f"{p.tokens_per_second:.0f}",
                                eta=f"{p.eta_seconds:.0f}s")
            elif kind == "evaluation":
                metrics = ", ".join(f"{k}={v:.4f}" for k, v in sorted(ev.evaluation.metrics.items()))
                progress.console.print(f"step {ev.evaluation.step}: {metrics}")
            elif kind == "message":
                progress.console.print(escape(ev.message))
            elif kind == "job":
                final = ev.job
                progress.console.print(f"state: {_state(ev.job)}")
    if final is None:
        return 1
    _print_job(final)
    return 0 if final.state == pb.JobState.Value("JOB_STATE_SUCCEEDED") else 1


def _print_job(job: Any) -> None:
    table = Table("field", "value", title=f"job {job.id}")
    table.add_row("state", _state(job))
    table.add_row("config", job.config + (" " + " ".join(f"{k}={v}" for k, v in job.overrides.items())))
    table.add_row("step", f"{job.step}/{job.total_steps} (resumed from {job.resumed_from_step})")
    table.add_row("loss", f"{job.loss:.4f}")
    for k, v in sorted(job.metrics.items()):
        table.add_row(k, f"{v:.4f}")
    for c in job.mixture:
        table.add_row(f"mixture {c.task}", f"{c.effective}/{c.available} ({c.proportion:.1%})")
    if job.artifact.path:
        table.add_row("artifact", f"{job.artifact.path} ({job.artifact.kind})")
        table.add_row("template", f"{job.artifact.template} {job.artifact.template_sha256[:12]}")
    if job.cost.wall_seconds:
        c = job.cost
        table.add_row("cost", f"{c.wall_seconds:.1f}s wall, peak {c.peak_memory_bytes / 2**20:.0f} MiB, "
                              f"{c.trainable_parameters:,} trainable params, artifact {c.artifact_size_bytes:,} B")
    if job.error:
        table.add_row("error", job.error)
    Console().print(table)


def _list(args: argparse.Namespace) -> int:
    def go(channel: grpc.Channel) -> int:
        pb, stubs = _api()
        state = pb.JobState.Value(f"JOB_STATE_{args.state.upper()}") if args.state else 0
        jobs = stubs.TrainerServiceStub(channel).ListJobs(pb.ListJobsRequest(page_size=args.limit, state=state),
                                                          timeout=30).jobs
        table = Table("id", "name", "config", "state", "step", "loss")
        for j in jobs:
            table.add_row(j.id, j.name, j.config, _state(j), f"{j.step}/{j.total_steps}", f"{j.loss:.4f}")
        Console().print(table)
        return 0

    return _call(go)


def _get(args: argparse.Namespace) -> int:
    def go(channel: grpc.Channel) -> int:
        pb, stubs = _api()
        _print_job(stubs.TrainerServiceStub(channel).GetJob(pb.GetJobRequest(id=args.id), timeout=30).job)
        return 0

    return _call(go)


def _watch_cmd(args: argparse.Namespace) -> int:
    def go(channel: grpc.Channel) -> int:
        _, stubs = _api()
        return _follow(stubs.TrainerServiceStub(channel), args.id)

    return _call(go)


def _cancel(args: argparse.Namespace) -> int:
    def go(channel: grpc.Channel) -> int:
        pb, stubs = _api()
        job = stubs.TrainerServiceStub(channel).CancelJob(pb.CancelJobRequest(id=args.id), timeout=30).job
        _console.print(f"job {job.id}: cancel requested (state {_state(job)})")
        return 0

    return _call(go)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("run as: codeeval train ... / codeeval jobs ...")
