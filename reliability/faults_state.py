"""Fault figures of damaged state and a full disk: each must be refused with a clear error (the file
and what to do), leave the damaged file as it was, and drop nothing silently; a run interrupted by a
torn write or a full disk resumes to the undisturbed run's results.

- bench run folders (a copy of the undisturbed run's): a torn last line of a stage file (what an
  interrupted write leaves: dropped and redone), a damaged line before the last (refused), a run folder
  from another version of the suite (refused);
- the bench output dir on a small tmpfs (root): the run stops with a clear error and no torn line in
  the middle of a file, then resumes once the tmpfs is grown;
- the trainer's job database: a foreign file, a truncated one, an overwritten page: the real trainer
  service refuses to start, naming the file, and leaves it byte for byte; an intact one keeps its jobs.

Cost: one bench run per case (the refusals stop early), four trainer start-ups (seconds each).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from codeeval.kit.client import LocalService
from codeeval.kit.startup import ServiceStartError
from reliability.context import Context
from reliability.faults_bench import Inputs
from reliability.faults_replicas import (
    RUN_LIMIT_S,
    Fleet,
    Outcome,
    bench,
    differences,
    finish,
    read_outcome,
    run_deadline,
)
from reliability.report import Section

STAGE_FILE = "executions.jsonl"


def _digest(folder: Path) -> str:
    """sha256 over a run folder's records (its stage files and results.json, names and bytes):
    unchanged means no record was dropped or rewritten (the receipt's and timings' bookkeeping may be)."""
    h = hashlib.sha256()
    for f in sorted(p for p in folder.rglob("*") if p.is_file() and (p.suffix == ".jsonl" or p.name == "results.json")):
        h.update(str(f.relative_to(folder)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def _log(out: Path) -> str:
    try:
        return out.with_name(out.name + ".log").read_text(errors="replace")
    except OSError:
        return ""


def _copy_reference(ctx: Context, name: str) -> Path:
    out = ctx.workdir / name
    shutil.copytree(ctx.workdir / "reference", out, ignore=shutil.ignore_patterns("logs"))
    return out


def run_folders(ctx: Context, fleet: Fleet, inputs: Inputs, ref: Outcome) -> Section:
    """A torn last line (redone), a damaged middle line (refused) and another suite version (refused),
    each on a copy of the undisturbed run's folder."""
    t0 = time.monotonic()
    rows, problems = [], []

    # 1. torn last line: the record being written when the process died; dropped and redone.
    out = _copy_reference(ctx, "torn-last-line")
    stage = out / "base" / STAGE_FILE
    data = stage.read_bytes()
    last = data.rstrip(b"\n").rfind(b"\n") + 1
    stage.write_bytes(data[: last + (len(data) - last) // 2])
    rc = finish(bench(out, inputs.suite, inputs.samples, inputs.items, fleet.env()), run_deadline())
    got = read_outcome(out)
    diffs = differences(got, ref)
    ok = rc == 0 and not diffs and not got.missing
    rows.append({"injected": f"torn last line of {STAGE_FILE}", "expected": "dropped, its program re-run",
                 "got": f"exit {rc}, {len(got.executed)}/{len(ref.needed)} programs once each", "holds": ok})
    if not ok:
        problems.append(f"torn last line: exit {rc}; {'; '.join(diffs) or f'{got.missing} programs missing'}")

    # 2. a damaged line before the last: refused, the file left as it is.
    out = _copy_reference(ctx, "damaged-line")
    stage = out / "base" / STAGE_FILE
    lines = stage.read_bytes().splitlines(keepends=True)
    lines[1] = b"{" + b"\x00" * (len(lines[1]) - 2) + b"\n"
    stage.write_bytes(b"".join(lines))
    before = _digest(out)
    rc = finish(bench(out, inputs.suite, inputs.samples, inputs.items, fleet.env()), run_deadline())
    said = f"{STAGE_FILE}: line 2 is damaged" in _log(out)
    ok = rc == 2 and said and _digest(out) == before and "Traceback" not in _log(out)
    rows.append({"injected": f"damaged line 2 of {STAGE_FILE}", "expected": "refused naming file and line, unchanged",
                 "got": f"exit {rc}, {'named' if said else 'not named'}, "
                        f"{'unchanged' if _digest(out) == before else 'CHANGED'}", "holds": ok})
    if not ok:
        problems.append(f"damaged middle line: exit {rc}, message {'found' if said else 'missing'} (see {out}.log)")

    # 3. a run folder made by another version of the suite: refused, unchanged.
    out = _copy_reference(ctx, "other-suite-version")
    other = ctx.workdir / "suite-v2.yaml"
    other.write_text(inputs.suite.read_text().replace('version: "1"', 'version: "2"'))
    before = _digest(out)
    rc = finish(bench(out, other, inputs.samples, inputs.items, fleet.env()), run_deadline())
    said = "version" in _log(out) and "Traceback" not in _log(out)
    ok = rc == 2 and said and _digest(out) == before
    rows.append({"injected": "run folder of suite version 1, run with version 2", "expected": "refused, unchanged",
                 "got": f"exit {rc}, {'says version' if said else 'unclear'}, "
                        f"{'unchanged' if _digest(out) == before else 'CHANGED'}", "holds": ok})
    if not ok:
        problems.append(f"other suite version: exit {rc} (see {out}.log)")
    return Section(title="damaged run folders: torn line, damaged line, other suite version", service="cli",
                   area="fault", rows=rows, problems=problems, seconds=time.monotonic() - t0,
                   lost=0 if rows[0]["holds"] else max(got.missing, 1))


def _mount(where: Path, size_kib: int, remount: bool = False) -> str | None:
    """Mount (or grow) a tmpfs of ``size_kib`` at ``where``; the error text when that is impossible."""
    opts = f"size={size_kib}k" + (",remount" if remount else "")
    cmd = ["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(where)] if not remount else \
        ["mount", "-o", opts, str(where)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    return None if proc.returncode == 0 else (proc.stderr.strip() or f"mount exited {proc.returncode}")


def _torn_middle(folder: Path) -> list[str]:
    """Stage files with a line that does not parse before their last line."""
    bad = []
    for f in sorted(folder.rglob("*.jsonl")):
        for raw in f.read_bytes().splitlines(keepends=True):
            if not raw.endswith(b"\n"):
                break
            try:
                json.loads(raw)
            except ValueError:
                bad.append(f.name)
                break
    return bad


def disk_full(ctx: Context, fleet: Fleet, inputs: Inputs, ref: Outcome) -> Section:
    """The bench output dir on a tmpfs too small for the run: a clear error, no damaged line, then the
    tmpfs grown and the same command resumes to the undisturbed results."""
    t0 = time.monotonic()
    where = ctx.workdir / "full-disk"
    where.mkdir()
    title = "bench output dir on a full disk (tmpfs), then resumed"
    if os.geteuid() != 0:
        return Section(title=title, service="cli", area="fault", notes=["not run: mounting a tmpfs needs root"])
    size = max(16, sum(f.stat().st_size for f in (ctx.workdir / "reference").rglob("*") if f.is_file()) // 2048)
    error = _mount(where, size)
    if error is not None:
        return Section(title=title, service="cli", area="fault", notes=[f"not run: cannot mount a tmpfs: {error}"])
    problems: list[str] = []
    try:
        out = where / "run"
        rc = finish(bench(out, inputs.suite, inputs.samples, inputs.items, fleet.env()), run_deadline())
        log = _log(out)
        clear = "No space left on device" in log and "Traceback" not in log
        torn = _torn_middle(out)
        if rc == 0:
            problems.append(f"the run finished on a {size} KiB tmpfs: nothing was injected (raise the run's size)")
        elif not clear:
            problems.append(f"a full disk ended the run (exit {rc}) without a clear error: {log.strip()[-300:]!r}")
        if torn:
            problems.append(f"damaged lines before the last in {', '.join(torn)}")
        first = f"exit {rc}, {'clear error' if clear else 'unclear'}, damaged files: {len(torn)}"
        grown = _mount(where, 64 << 10, remount=True)
        if grown is not None:
            raise RuntimeError(f"cannot grow the tmpfs: {grown}")
        rc2 = finish(bench(out, inputs.suite, inputs.samples, inputs.items, fleet.env()), run_deadline())
        got = read_outcome(out)
        diffs = differences(got, ref)
        if rc2 != 0 or diffs:
            problems.append(f"resumed after the disk grew: exit {rc2}; {'; '.join(diffs)}")
        row = {"tmpfs (KiB)": size, "full run": first, "resumed": f"exit {rc2}",
               "programs in the results": len(got.executed), "equal to undisturbed": not diffs, "lost": got.missing}
        # the output dir's log files live beside it, on the tmpfs: copy them out for the reader
        with contextlib.suppress(OSError):
            shutil.copy(out.with_name(out.name + ".log"), ctx.workdir / "full-disk.log")
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)
    return Section(title=title, service="cli", area="fault", rows=[row], lost=got.missing, problems=problems,
                   seconds=time.monotonic() - t0,
                   notes=[f"a {size} KiB tmpfs (half the undisturbed run's folder), grown to 64 MiB for the resume"])


def _job_database(path: Path, jobs: int) -> bytes:
    from codeeval.trainer.store import JobStore

    store = JobStore(path)
    for i in range(jobs):  # the manager's record shape (jobs.JobManager.submit), finished
        store.insert({"id": f"job-{i}", "name": f"j{i}", "config": "reliability", "overrides": {"note": "x" * 300},
                      "state": "FAILED", "created_at": float(i), "started_at": float(i), "finished_at": float(i),
                      "step": 0, "total_steps": 0, "loss": 0.0, "error": "a reliability fixture", "artifact": None,
                      "cost": None, "mixture": [], "metrics": {}, "resumed_from_step": 0, "attempts": 1,
                      "cancel_requested": False, "load_into_generator": False, "adapter_name": f"j{i}"})
    store.close()
    return path.read_bytes()


def trainer_database(ctx: Context) -> Section:
    """The real trainer service on a damaged job database (three kinds) refuses to start, names the
    file and leaves it byte for byte; on the intact one it starts and lists every job."""
    from codeeval.api.trainer.v1 import trainer_pb2, trainer_pb2_grpc
    from codeeval.kit.client import open_channel

    t0 = time.monotonic()
    jobs = ctx.count(300, minimum=60)
    good = _job_database(ctx.workdir / "good-jobs.sqlite", jobs)
    cases = {"foreign file": b"\x00not sqlite" * 64, "truncated to half": good[: len(good) // 2],
             "page 3 overwritten": good[:8192] + b"\xff" * 4096 + good[12288:], "intact": good}
    rows, problems, lost = [], [], 0
    for name, data in cases.items():
        state = ctx.workdir / f"trainer-{name.replace(' ', '-')}"
        state.mkdir()
        (state / "jobs.sqlite").write_bytes(data)
        config = state / "trainer.yaml"
        config.write_text(json.dumps({"trainer": {"state_dir": str(state)}}))
        svc = LocalService("trainer", config=str(config), log_file=state / "trainer.log")
        listed, reason = -1, ""
        try:
            address = svc.start(timeout=120)
            ctx.check_loopback(address)
            with open_channel(address) as channel:
                stub = trainer_pb2_grpc.TrainerServiceStub(channel)
                listed, token = 0, ""
                for _ in range(jobs):
                    resp = stub.ListJobs(trainer_pb2.ListJobsRequest(page_size=100, page_token=token), timeout=30)
                    listed += len(resp.jobs)
                    token = resp.next_page_token
                    if not token:
                        break
        except ServiceStartError as exc:
            reason = str(exc)
        finally:
            svc.stop()
        kept = (state / "jobs.sqlite").read_bytes() == data
        if name == "intact":
            ok = listed == jobs
            lost += max(0, jobs - listed)
            got = f"started, listed {listed}/{jobs} jobs"
        else:
            ok = listed < 0 and "is damaged" in reason and str(state / "jobs.sqlite") in reason and kept
            said = reason[reason.find("is damaged"):].split(";")[0] if "is damaged" in reason else reason[-120:]
            got = f"refused: jobs.sqlite {said}" if listed < 0 else "STARTED on it"
        rows.append({"database": name, "got": got, "file unchanged": kept, "holds": ok})
        if not ok:
            problems.append(f"{name}: {got}; file {'unchanged' if kept else 'CHANGED'}")
    return Section(title="damaged job database", service="trainer", area="fault", rows=rows, lost=lost,
                   problems=problems, seconds=time.monotonic() - t0,
                   notes=[f"{jobs} jobs in the database; the real trainer service started on each"])


def _tiny_adapter(base: Path, out: Path) -> Path:
    """A real (untrained, random) LoRA adapter of the tiny model, saved by PEFT."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(base),
                           LoraConfig(r=4, lora_alpha=16, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    model.save_pretrained(str(out))
    return out


def truncated_adapter(ctx: Context) -> Section:
    """The real generator (transformers engine, a tiny random Llama) asked to LoadAdapter a PEFT
    adapter whose weights file is cut short, in several ways: each is FAILED_PRECONDITION naming the
    file, nothing is loaded; the whole adapter then loads."""
    import grpc

    from codeeval.api.generator.v1 import generator_pb2, generator_pb2_grpc
    from codeeval.kit.client import open_channel
    t0 = time.monotonic()
    base = tiny_model(ctx)
    whole = _tiny_adapter(base, ctx.workdir / "adapter-whole")
    data = (whole / "adapter_model.safetensors").read_bytes()
    header = 8 + int.from_bytes(data[:8], "little")
    cuts = {"cut to half": data[: len(data) // 2], "last byte missing": data[:-1], "header only": data[:header],
            "empty file": b""}
    config = ctx.workdir / "generator.yaml"
    config.write_text(json.dumps({"generator": {"engine": "transformers", "model": str(base), "dtype": "float32"}}))
    svc = LocalService("generator", config=str(config), log_file=ctx.workdir / "generator.log")
    rows, problems = [], []
    try:
        address = ctx.check_loopback(svc.start(timeout=300))
        with open_channel(address) as channel:
            stub = generator_pb2_grpc.GeneratorServiceStub(channel)
            for name, cut in cuts.items():
                folder = ctx.workdir / f"adapter-{name.replace(' ', '-')}"
                shutil.copytree(whole, folder)
                (folder / "adapter_model.safetensors").write_bytes(cut)
                try:
                    stub.LoadAdapter(generator_pb2.LoadAdapterRequest(name="cut", path=str(folder)), timeout=120)
                    code, details = "OK", "loaded"
                except grpc.RpcError as exc:
                    code, details = exc.code().name, exc.details() or ""
                listed = [a.name for a in stub.ListAdapters(generator_pb2.ListAdaptersRequest(), timeout=30).adapters]
                ok = code == "FAILED_PRECONDITION" and "adapter_model.safetensors" in details and "cut" not in listed
                rows.append({"weights file": f"{name} ({len(cut)} of {len(data)} bytes)", "status": code,
                             "names the file": "adapter_model.safetensors" in details, "holds": ok})
                if not ok:
                    problems.append(f"{name}: {code}: {details[:200]}")
            resp = stub.LoadAdapter(generator_pb2.LoadAdapterRequest(name="whole", path=str(whole)), timeout=120)
            rows.append({"weights file": f"whole ({len(data)} bytes)", "status": "OK",
                         "names the file": "", "holds": resp.adapter.name == "whole"})
    finally:
        svc.stop()
    return Section(title="truncated adapter weights on LoadAdapter", service="generator", area="fault", rows=rows,
                   problems=problems, seconds=time.monotonic() - t0,
                   notes=["the real generator service, transformers engine, a tiny random Llama; a PEFT adapter"])


def tiny_model(ctx: Context) -> Path:
    from codeeval.models import tiny_llama

    where = ctx.workdir / "tiny-llama"
    return where if (where / "config.json").exists() else tiny_llama(where)


def _train(base: Path, workdir: Path) -> tuple[int, str, dict[str, Any]]:
    """The trainer's recipe (what its worker runs) on the tiny test config: (exit status, its output,
    result.json or {})."""
    cmd = [sys.executable, "-m", "codeeval.trainer.recipe", "--config", "tiny-multitask-lora",
           "--set", f"model.base={base}", "--workdir", str(workdir)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=RUN_LIMIT_S)
        rc, out = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired:
        rc, out = -9, "timed out"
    result = workdir / "result.json"
    return rc, out, json.loads(result.read_text()) if result.exists() else {}


def trainer_checkpoints_full(ctx: Context) -> Section:
    """The trainer's checkpoint dir on a tmpfs that holds one checkpoint but not two: the run stops
    with a clear error, the checkpoint it had is whole (the half-written one is a hidden temp folder
    that resume ignores), and once the tmpfs is grown the same run resumes from it to the
    uninterrupted run's loss."""
    from codeeval.kit.paths import datasets_dir
    from codeeval.trainer import checkpoint

    t0 = time.monotonic()
    title = "trainer checkpoint dir on a full disk (tmpfs), then resumed"
    data = datasets_dir() / "codexglue_code_to_code_trans" / "valid.java-cs.txt.java"  # and its .cs twin
    if os.geteuid() != 0:
        return Section(title=title, service="trainer", area="fault", notes=["not run: mounting a tmpfs needs root"])
    if not data.exists():
        return Section(title=title, service="trainer", area="fault",
                       notes=[f"not run: the tiny training config reads {data.name}, not in the datasets dir"])
    base = tiny_model(ctx)
    rc0, out0, ref = _train(base, ctx.workdir / "train-reference")
    if rc0 != 0:
        raise RuntimeError(f"the uninterrupted training run exited {rc0}: {out0.strip()[-300:]}")
    one = checkpoint.latest(ctx.workdir / "train-reference" / "checkpoints")
    assert one is not None
    files = [f for f in one.iterdir() if f.is_file()]
    size_kib = (sum(f.stat().st_size for f in files) + 4096 * len(files)) * 3 // 2 // 1024 + 8
    work = ctx.workdir / "train-full"
    (work / "checkpoints").mkdir(parents=True)
    error = _mount(work / "checkpoints", size_kib)
    if error is not None:
        return Section(title=title, service="trainer", area="fault", notes=[f"not run: cannot mount a tmpfs: {error}"])
    problems: list[str] = []
    try:
        rc1, out1, _ = _train(base, work)
        kept = checkpoint.latest(work / "checkpoints")
        whole = kept is not None and sorted(f.name for f in kept.iterdir()) == sorted(f.name for f in files)
        clear = "no space left on device for checkpoint" in out1
        if rc1 == 0:
            problems.append(f"training finished on a {size_kib} KiB checkpoint dir: nothing was injected")
        if not clear:
            problems.append(f"the full disk stopped training without saying so: {out1.strip()[-300:]!r}")
        if not whole:
            problems.append(f"no whole checkpoint kept after the full disk (latest: {kept})")
        grown = _mount(work / "checkpoints", 256 << 10, remount=True)
        if grown is not None:
            raise RuntimeError(f"cannot grow the tmpfs: {grown}")
        rc2, out2, got = _train(base, work)
    finally:
        subprocess.run(["umount", "-l", str(work / "checkpoints")], capture_output=True)
    resumed = int(got.get("resumed_from_step", 0))
    loss, ref_loss = got.get("metrics", {}).get("train_loss"), ref.get("metrics", {}).get("train_loss")
    equal = loss is not None and ref_loss is not None and abs(loss - ref_loss) <= 1e-4 * max(1.0, abs(ref_loss))
    if rc2 != 0 or not resumed or not equal:
        problems.append(f"resume after the disk grew: exit {rc2}, resumed from step {resumed}, loss {loss} vs "
                        f"{ref_loss}: {out2.strip()[-200:]!r}")
    return Section(title=title, service="trainer", area="fault", problems=problems, seconds=time.monotonic() - t0,
                   rows=[{"tmpfs (KiB)": size_kib, "full run": f"exit {rc1}, {'clear error' if clear else 'unclear'}",
                          "checkpoint kept": kept.name if kept else "none", "kept is whole": whole,
                          "resumed from step": resumed, "final loss equal": equal}],
                   notes=["the trainer's recipe (what its worker runs) on the tiny test config, 12 steps, a checkpoint "
                          "every 4; the tmpfs holds one checkpoint and a half"])
