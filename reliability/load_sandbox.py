"""Sandbox under sustained load: a real local sandbox service (``codeeval serve sandbox`` on
loopback, the host's default backend) kept saturated with ExecuteBatch streams of benign, hostile
and forging programs (:mod:`reliability.load_programs`) through the typed :class:`SandboxClient`.

The load runs in rounds of ``every`` programs on ``streams`` concurrent streams of ``batch``
programs each (streams x batch is four times the service's slots, and its queue is set small, so
the queue fills and some batches are refused with RESOURCE_EXHAUSTED: each is counted and retried
after a pause; a refused batch ran nothing). Between rounds the service is quiet and is sampled:
its RSS, open fds, process tree, processes left of its slot uids, run directories left in its
workspace and run cgroups left under its cgroup. Every program's verdict is checked against the
outcomes its class allows; a program without a result is lost.

Bounded by ``ctx.count(10_000)`` runs and ``ctx.deadline(seconds)``. Cost: the sandbox's own cost
per run (about 0.1-0.5 s of CPU per Python run; hostile ones hold a slot for their wall limit).
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import tempfile
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import yaml

from codeeval.clients.base import ServiceError
from codeeval.clients.sandbox import SandboxClient
from codeeval.kit.client import LocalService
from codeeval.records import Execution
from reliability import load_programs
from reliability.context import Context
from reliability.load_checks import (
    Flatness,
    Sample,
    Started,
    Verdict,
    cmdline,
    descendants,
    leftovers,
    lost_count,
    open_fds,
    percentile,
    processes,
    rss_bytes,
    verdict_problems,
)
from reliability.report import Section

#: Full profile: runs in all. The short profile scales it (ctx.count) and its time bound stops it first.
FULL_RUNS = 10_000
REJECT_PAUSE_S = 0.2


@dataclass
class SandboxService(Started):
    """A started sandbox: the child process, its workspace parent and its settings file."""

    workspace: Path
    slots: int
    queue: int

    def stop(self) -> None:
        super().stop()
        shutil.rmtree(self.workspace, ignore_errors=True)


def start(ctx: Context, timeout: float = 300.0) -> SandboxService:
    """Start the sandbox on loopback with its own workspace parent (a world-searchable temp dir, so
    run directories left behind can be counted), ``slots`` = the cores and a queue of ``slots``."""
    slots = max(2, len(os.sched_getaffinity(0)))
    workspace = Path(tempfile.mkdtemp(prefix="codeeval-load-ws-"))
    workspace.chmod(0o755)
    config = ctx.workdir / "sandbox.yaml"
    config.write_text(yaml.safe_dump({"sandbox": {"workspace_dir": str(workspace), "max_concurrency": slots,
                                                  "max_queue": slots}}))
    svc = LocalService("sandbox", config=str(config), log_file=ctx.workdir / "sandbox.log")
    try:
        ctx.check_loopback(svc.start(timeout=timeout, on_wait=ctx.log))
    except BaseException:
        svc.stop()
        shutil.rmtree(workspace, ignore_errors=True)
        raise
    return SandboxService(svc, workspace, slots, slots)


def slot_uids(pid: int, slots: int) -> range:
    """The candidate slot uids of the sandbox ``pid`` (from its uid-block lock file, root only), or
    an empty range when it runs without slot uids."""
    from codeeval.sandbox.settings import SandboxSettings

    lock_dir = Path(SandboxSettings.load().uid_lock_dir)
    for lock in lock_dir.glob("uids-*.lock"):
        try:
            if lock.read_text().strip() == str(pid):
                start = int(lock.stem.split("-")[1])
                return range(start, start + slots)
        except (OSError, ValueError):
            continue
    return range(0)


def run_cgroups(pid: int) -> frozenset[str]:
    """Names of the run cgroups (children of the service's instance groups, v1 and v2) that exist now:
    a run's group has one name in every controller."""
    root = Path("/sys/fs/cgroup")
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    except OSError:
        return frozenset()
    groups: set[Path] = set()
    for line in lines:
        _, controllers, path = line.split(":", 2)
        for ctl in controllers.split(",") if controllers else [""]:
            if ctl in ("", "memory", "pids"):
                top = root / ctl / path.lstrip("/") / "codeeval-sandbox"
                groups.update(top.glob(f"pid-{pid}-*"))
    return frozenset(child.name for g in groups for child in g.iterdir() if child.is_dir())


RUN_DIR = re.compile(r"[0-9a-f]{24}")


def run_dirs(workspace: Path, pid: int) -> int:
    """Run directories (24 hex digits; the service's own files, like its Java launcher, are not
    runs) left in the service's workspace ``codeeval-sandbox-<pid>-*``."""
    return sum(1 for base in workspace.glob(f"codeeval-sandbox-{pid}-*") for d in base.iterdir()
               if RUN_DIR.fullmatch(d.name))


#: The warm Python judges' script (runners/support): one server per slot, which forks a child per run
#: and reaps its finished children (waitpid WNOHANG) when its next run arrives, so the child of a
#: judge's last run (or two, when the earlier one was still exiting at that moment) stays unreaped
#: until then. Those are the only unreaped children a quiet sandbox may have.
JUDGE_SCRIPT = "py_judge.py"


def sample(svc: SandboxService, runs: int, uids: range) -> tuple[Sample, int]:
    """A quiet sample, and the orphaned zombies of the slot uids seen (the host init's to reap). Run
    cgroups: the zygote path keeps one group per slot made ahead for the slot's next run (each serves
    one run, then is removed), so more groups than slots are leftovers, and a group still there in the
    next sample is one too (:func:`~reliability.load_checks.flatness_problems`)."""
    table = processes()
    left, orphans = leftovers(uids, svc.pid, table) if uids else (set(), set())
    groups = run_cgroups(svc.pid)
    tree = descendants(svc.pid, table)
    zombies = frozenset(p for p in tree if table[p].state == "Z")
    judges = {pp for pp in {table[p].ppid for p in zombies} if JUDGE_SCRIPT in cmdline(pp)}
    return Sample(runs=runs, rss=rss_bytes(svc.pid), fds=open_fds(svc.pid), tree=len(tree) - len(zombies),
                  zombie_pids=zombies, stray_zombies=sum(1 for p in zombies if table[p].ppid not in judges),
                  leftover_processes=len(left), leftover_dirs=run_dirs(svc.workspace, svc.pid),
                  leftover_cgroups=max(0, len(groups) - svc.slots), run_groups=groups), len(orphans)


def quiet_sample(svc: SandboxService, runs: int, uids: range, seconds: float = 5.0) -> tuple[Sample, int]:
    """:func:`sample`, taken again every 0.2 s for at most ``seconds`` while it shows leftovers or an
    unreaped child of another process than a judge: the last run's process, directory and cgroup are
    removed (and its processes reaped) just after its result was streamed, so a sample can catch a
    teardown in progress; one still there after ``seconds`` is a leak."""
    end = time.monotonic() + seconds
    got = sample(svc, runs, uids)
    while (got[0].leftover_processes or got[0].leftover_dirs or got[0].leftover_cgroups
           or got[0].stray_zombies) and time.monotonic() < end:
        time.sleep(0.2)
        got = sample(svc, runs, uids)
    return got


@dataclass
class Tally:
    """What the streams recorded (guarded by ``lock``)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    sent: int = 0
    verdicts: list[Verdict] = field(default_factory=list)
    latency_s: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    rejections: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    abandoned: int = 0


def _one_batch(client: SandboxClient, batch: list[tuple[load_programs.Program, int]], tally: Tally,
               deadline: float) -> None:
    """Run one batch to its end; a RESOURCE_EXHAUSTED refusal is counted and retried (until the
    deadline); another error is counted, and its programs without a result stay lost."""
    requests = [load_programs.request(p, n) for p, n in batch]
    keys = [r.id for r in requests]
    got: set[int] = set()
    while True:
        t0 = time.monotonic()

        def on_result(i: int, ex: Execution, t0: float = t0) -> None:
            dt = time.monotonic() - t0
            prog = batch[i][0]
            with tally.lock:
                if i in got:
                    tally.duplicates += 1
                    return
                got.add(i)
                tally.latency_s[prog.kind].append(dt)
                tally.verdicts.append(Verdict(prog.kind, prog.name, prog.expected, ex.outcome.name))

        try:
            client.execute_batch(requests, keys, on_result)
            return
        except ServiceError as exc:
            if exc.code == grpc.StatusCode.RESOURCE_EXHAUSTED and not got and time.monotonic() < deadline:
                with tally.lock:
                    tally.rejections += 1
                time.sleep(REJECT_PAUSE_S)
                continue
            if exc.code == grpc.StatusCode.RESOURCE_EXHAUSTED and not got:
                with tally.lock:  # refused at the time bound: never ran, so not lost
                    tally.sent -= len(batch)
                    tally.abandoned += len(batch)
                return
            with tally.lock:
                tally.errors[f"{exc.code.name if exc.code else 'ERROR'}: {str(exc)[:160]}"] += 1
            return


def run(ctx: Context, svc: SandboxService, seconds: float | None = None) -> Section:
    """The sandbox load figure (see the module docstring)."""
    t_start = time.monotonic()
    total = ctx.count(FULL_RUNS, minimum=60)
    deadline = ctx.deadline(seconds)
    batch, streams = 2, 2 * svc.slots
    every = max(batch * streams * 2, total // 25)
    programs = load_programs.mix()
    cycle = itertools.cycle(programs)
    tally = Tally()
    flat = Flatness()
    uids = slot_uids(svc.pid, svc.slots)
    client = SandboxClient(address=ctx.check_loopback(svc.service.address), wait_s=5.0)
    counter = itertools.count()
    warm_runs = max_orphans = 0
    try:
        with ThreadPoolExecutor(streams, thread_name_prefix="sandbox-load") as pool:
            # warm-up round: judges and staged files come up; its sample is the baseline
            rounds = 0
            while tally.sent < total and time.monotonic() < deadline:
                size = min(every, total - tally.sent)
                work = [(next(cycle), next(counter)) for _ in range(size)]
                batches = [work[i:i + batch] for i in range(0, len(work), batch)]
                tally.sent += len(work)
                list(pool.map(lambda b: _one_batch(client, b, tally, deadline), batches))
                quiet, orphans = quiet_sample(svc, len(tally.verdicts), uids)
                flat.add(quiet)
                max_orphans = max(max_orphans, orphans)
                rounds += 1
                if rounds == 1:
                    warm_runs = len(tally.verdicts)
        elapsed = time.monotonic() - t_start
        settle(svc, flat, uids)
    finally:
        client.close()
    section = _section(ctx, svc, tally, flat, elapsed, batch, streams, every, uids, warm_runs, max_orphans)
    section.notes.append("the service's process tree at the end: " + _tree_commands(svc.pid))
    return section


def settle(svc: SandboxService, flat: Flatness, uids: range, seconds: float = 10.0) -> None:
    """Replace the last sample by a fresh one until its fds and process tree are back at the warm-up
    sample's, for at most ``seconds``: a run's
    processes and the service's own background work (its start-up's javac, say) can take a moment
    to end after the last result was streamed, which is not a leak; what is still there after
    ``seconds`` is."""
    if len(flat.samples) < 2:
        return
    base, end = flat.samples[0], time.monotonic() + seconds
    while time.monotonic() < end:
        last = flat.samples[-1]
        if last.tree <= base.tree and last.fds <= base.fds and not last.stray_zombies:
            return
        time.sleep(0.5)
        flat.samples[-1] = quiet_sample(svc, last.runs, uids)[0]


def _tree_commands(pid: int) -> str:
    names: Counter[str] = Counter()
    for child in descendants(pid):
        try:
            names[Path(f"/proc/{child}/comm").read_text().strip()] += 1
        except OSError:
            continue
    return ", ".join(f"{n} {k}" for n, k in sorted(names.items())) or "none"


def _section(ctx: Context, svc: SandboxService, tally: Tally, flat: Flatness, elapsed: float, batch: int,
             streams: int, every: int, uids: range, warm_runs: int, max_orphans: int) -> Section:
    rows = []
    by_kind: dict[str, Counter[str]] = defaultdict(Counter)
    wrong: Counter[str] = Counter()
    for v in tally.verdicts:
        by_kind[v.kind][v.got] += 1
        wrong[v.kind] += not v.ok
    for kind in ("benign-correct", "benign-wrong", "hostile", "forging"):
        lat = tally.latency_s.get(kind, [])
        rows.append({"programs": kind, "runs": sum(by_kind[kind].values()),
                     "outcomes": ", ".join(f"{k} {n}" for k, n in by_kind[kind].most_common()) or "-",
                     "wrong verdicts": wrong[kind], "p50 s": percentile(lat, 0.5), "p99 s": percentile(lat, 0.99)})
    done = len(tally.verdicts)
    all_lat = [x for lat in tally.latency_s.values() for x in lat]
    rows.append({"programs": "all", "runs": done, "outcomes": f"{done / elapsed:.2f} programs/s",
                 "wrong verdicts": sum(wrong.values()), "p50 s": percentile(all_lat, 0.5),
                 "p99 s": percentile(all_lat, 0.99)})
    problems = verdict_problems(tally.verdicts) + flat.problems("sandbox")
    problems += [f"{n}x {err}" for err, n in tally.errors.items()]
    if tally.duplicates:
        problems.append(f"{tally.duplicates} results delivered twice")
    if not done:
        problems.append("no program finished")
    figures = flat.figures()
    notes = [f"{done} runs in {elapsed:.0f}s ({done / elapsed:.2f} programs/s) on {svc.slots} slots, "
             f"{streams} concurrent ExecuteBatch streams of {batch} programs, queue {svc.queue}; "
             f"queue rejections (RESOURCE_EXHAUSTED, retried): {tally.rejections}",
             "latency: from a batch's submission to each of its results (queueing included)",
             f"resources sampled while quiet every {every} runs (first sample after the {warm_runs}-run warm-up): "
             + "; ".join(f"{k} {v}" for k, v in figures.items()),
             "leftovers checked in every sample: processes of the slot uids "
             + (f"{uids.start}-{uids.stop - 1}" if uids else "(none: not root)")
             + ", run directories in the workspace, run cgroups under the service's group (beyond one per slot: "
             "the group the zygote path makes ahead for a slot's next run; and any group still there in the next "
             "sample, since each serves one run); exited processes "
             f"re-parented to the host's init (zombies it reaps on its own schedule, not the service's) up to "
             f"{max_orphans} in a sample",
             f"unreaped children, judged exactly (no count allowance): in every quiet sample each must be a child "
             f"of a warm Python judge ({JUDGE_SCRIPT}, one per slot, which reaps its finished run children when "
             "its next run arrives), and none may still be unreaped in the next sample (every round gives each "
             "judge runs: the pool hands them out first-in first-out)",
             f"mix per cycle: {len(load_programs.benign()) * 3} benign, {len(load_programs.hostile())} hostile, "
             f"{len(load_programs.forging())} forging (reward-hacking fixtures but "
             f"{', '.join(load_programs.FORGING_SKIPPED)}); every source unique per run (no de-duplication)"]
    if tally.sent < ctx.count(FULL_RUNS, minimum=60):
        notes.append(f"stopped by the time bound after {tally.sent} of {ctx.count(FULL_RUNS, minimum=60)} runs")
    return Section(title="ExecuteBatch at saturation", service="sandbox", area="load", rows=rows,
                   lost=lost_count(tally.sent, done), problems=problems, notes=notes, seconds=elapsed)
