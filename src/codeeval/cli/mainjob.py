"""The main job (``make main`` -> scripts/main-job.sh -> ``python -m codeeval.cli.mainjob``).

1. starts the four services on loopback (or uses ``CODEEVAL_<SVC>_ADDR`` where set), their starts
   overlapping, and prepares the default model (SmolLM2-135M-Instruct, converted once into the model
   cache) before the generator starts; every few seconds a line says which service it waits for and
   why; one that cannot start ends the job with its reason and log;
2. trains a multi-task QLoRA adapter with the trainer config ``smollm2-multitask-qlora-cpu``, or
   reuses the adapter of the newest succeeded job of that config whose folder still exists
   (``--retrain`` forces a new one); while it trains, the base model is benchmarked (the trainer and
   the generator use one core each);
3. benchmarks the base model and the adapter (hot-loaded into the running generator by
   LoadAdapter) on the default suite; the output folder is named after the codeeval commit and the
   training job, so a second run of the same code with the same adapter resumes it instead of
   redoing it (``--fresh`` starts over);
4. prints the results, the base-vs-adapter comparison and the path of report.html.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from codeeval.api.trainer.v1 import trainer_pb2
from codeeval.clients import ServiceError, TrainerClient
from codeeval.kit.client import LocalService, address_env, service_address

TRAIN_CONFIG = "smollm2-multitask-qlora-cpu"
#: The generator this job starts serves one adapter of rank <= 16 at a time: vLLM on CPU preallocates LoRA
#: buffers for max_loras x max_lora_rank, and 1 x 16 instead of the default 4 x 64 decodes the adapter 2x
#: and the base model 1.4x faster (SmolLM2-135M, float32, one thread). Set the variables to override.
GENERATOR_ENV = {"CODEEVAL_GENERATOR_MAX_LORAS": "1", "CODEEVAL_GENERATOR_MAX_LORA_RANK": "16"}
SERVICES = ("sandbox", "analyzer", "generator", "trainer")
console = Console(stderr=True, soft_wrap=True)


def _say(line: str) -> None:
    console.print(line, highlight=False, markup=False)


class _Aborted(Exception):
    """Another start failed for good: this one stops waiting (raised from its next progress line)."""


def start_services(log_dir: Path, timeout: float, started: list[LocalService],
                   prepare_model: Callable[[], object] | None = None) -> None:
    """Start every service without an address in the environment, appending each to ``started`` before
    it starts (so the caller stops it even when its start is interrupted); export the addresses.

    The starts overlap, one thread per chain: sandbox; analyzer; ``prepare_model`` (the default model's
    one-time conversion), then the generator, then the trainer (which reads the generator's address for
    its rank checks). On a 2-core machine this hides the JVMs', torch's and the conversion's start-up
    behind one another instead of adding them up.
    While they wait, a line every few seconds says which service and why it is not ready yet. A start
    that fails for good raises its ServiceStartError (reason and log path) at once; the other starts stop
    waiting at their next progress line (within REPORT_EVERY_S), and the caller stops what ``started`` holds."""
    for key, value in GENERATOR_ENV.items():
        os.environ.setdefault(key, value)
    failed = threading.Event()

    def on_wait(line: str) -> None:
        if failed.is_set():
            raise _Aborted
        _say(line)

    def start(names: tuple[str, ...], before: Callable[[], object] | None) -> None:
        if before is not None:
            before()
        for name in names:
            if failed.is_set():
                raise _Aborted
            if service_address(name):
                console.print(f"{name}: using {service_address(name)}")
                continue
            t0 = time.monotonic()
            svc = LocalService(name, log_file=log_dir / f"{name}.log")
            started.append(svc)
            try:
                os.environ[address_env(name)] = svc.start(timeout=timeout, on_wait=on_wait)
            except _Aborted:
                svc.stop()  # it may have been added after the caller stopped what ``started`` held
                raise
            console.print(f"{name}: SERVING at {svc.address} ({time.monotonic() - t0:.0f}s; log {svc.log_file})")

    chains = [(("sandbox",), None), (("analyzer",), None), (("generator", "trainer"), prepare_model)]
    pool = ThreadPoolExecutor(len(chains), thread_name_prefix="start")
    futures = [pool.submit(start, names, before) for names, before in chains]
    try:
        for fut in as_completed(futures):
            fut.result()
    except BaseException:
        failed.set()
        raise
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _trainer() -> TrainerClient:
    return TrainerClient(address=os.environ[address_env("trainer")], wait_s=60.0)


def _reusable_adapter(trainer: TrainerClient) -> trainer_pb2.Job | None:
    for job in trainer.succeeded_jobs():
        if job.config == TRAIN_CONFIG and not job.overrides and job.artifact.path and Path(job.artifact.path).is_dir():
            return job
    return None


def start_training(retrain: bool) -> tuple[trainer_pb2.Job, bool]:
    """(job, reused): the newest reusable succeeded job of TRAIN_CONFIG, or a job started now."""
    with _trainer() as trainer:
        job = None if retrain else _reusable_adapter(trainer)
        if job is not None:
            console.print(f"reusing adapter of job {job.id} ({job.artifact.path}); --retrain trains a new one")
            return job, True
        job = trainer.start_training(TRAIN_CONFIG, "main-job")
        console.print(f"training job {job.id}: {TRAIN_CONFIG}")
        return job, False


def wait_for_adapter(job_id: str) -> trainer_pb2.Job:
    """Follow the job to its end, a log line at every tenth of its steps; the succeeded job, else RuntimeError."""
    shown = [0]

    def progress(p: trainer_pb2.Progress) -> None:
        tenth = p.step * 10 // max(p.total_steps, 1)
        if tenth > shown[0]:
            shown[0] = tenth
            console.print(f"train step {p.step}/{p.total_steps} loss {p.loss:.3f}", highlight=False)

    with _trainer() as trainer:
        final = trainer.watch(job_id, progress)
    if final is None or final.state != trainer_pb2.JOB_STATE_SUCCEEDED:
        raise RuntimeError(f"training job {job_id} ended {trainer_pb2.JobState.Name(final.state) if final else '?'}: "
                           f"{final.error if final else 'no final state'}")
    c = final.cost
    console.print(f"adapter {final.artifact.path}: {c.wall_seconds:.0f}s, {c.trainable_parameters:,} trainable "
                  f"parameters, peak {c.peak_memory_bytes / 2**20:.0f} MiB, {c.artifact_size_bytes:,} bytes")
    return final


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="main-job", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out-root", type=Path, default=Path("runs/main"), help="where bench outputs go")
    parser.add_argument("--log-dir", type=Path, default=Path(".codeeval/logs"), help="service logs")
    parser.add_argument("--retrain", action="store_true", help="train a new adapter even if one can be reused")
    parser.add_argument("--fresh", action="store_true", help="benchmark again instead of resuming")
    parser.add_argument("--suite", default="default")
    parser.add_argument("--start-timeout", type=float, default=1200.0)
    args = parser.parse_args(argv)
    t_start = time.monotonic()

    from codeeval.cli.bench import _print_results, progress_reporter
    from codeeval.models.default import prepare_default_model
    from codeeval.pipeline import bench
    from codeeval.pipeline.receipt import codeeval_version
    from codeeval.pipeline.services import Services
    from codeeval.suites import load_suite

    def prepare_model() -> None:
        t0 = time.monotonic()
        console.print(f"default model: {prepare_default_model()} ({time.monotonic() - t0:.0f}s)")

    args.log_dir.mkdir(parents=True, exist_ok=True)
    started: list[LocalService] = []
    try:
        t0 = time.monotonic()
        start_services(args.log_dir, args.start_timeout, started, prepare_model)
        console.print(f"services started in {time.monotonic() - t0:.0f}s")
        job, reused = start_training(args.retrain)
        commit = codeeval_version()["git_commit"][:10] or "nocommit"
        out = args.out_root / f"{commit}-job{job.id}"
        if args.fresh and out.exists():
            shutil.rmtree(out)
        suite = load_suite(args.suite)
        pool = ThreadPoolExecutor(1, thread_name_prefix="train-watch")
        trained = pool.submit(lambda: job if reused else wait_for_adapter(job.id))
        pool.shutdown(wait=False)
        with Services(wait_s=60.0, log_dir=args.log_dir) as services:
            if not reused:  # the trainer and the generator each use one core: bench the base model meanwhile
                console.print("benchmarking the base model while the adapter trains")
                with progress_reporter(console) as reporter:
                    bench.run_bench(bench.BenchConfig(suite=suite, out=out, argv=sys.argv), services, reporter)
            adapter = Path(trained.result().artifact.path)
            config = bench.BenchConfig(suite=suite, out=out, adapters=[("multitask-qlora", adapter)], argv=sys.argv)
            with progress_reporter(console) as reporter:  # the base model's stages are done: they are only reread
                results, paths = bench.run_bench(config, services, reporter)
        _print_results(results, json.loads(paths["comparison"].read_text())["comparisons"])
        print(f"report: {paths['html'].resolve()}")
        console.print(f"main job done in {time.monotonic() - t_start:.0f}s")
        return 0
    except ServiceError as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}; run `make main` again to resume")
        return 3
    except (RuntimeError, TimeoutError) as exc:  # ServiceStartError among them: reason and log path
        console.print(f"[red]error:[/] {escape(str(exc))}")
        return 3
    finally:
        _stop(started)


def _stop(started: list[LocalService]) -> None:
    for svc in reversed(started):
        svc.stop()


if __name__ == "__main__":
    sys.exit(main())
