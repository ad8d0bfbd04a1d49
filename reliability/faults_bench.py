"""Fault figures of a bench run against replicas: a replica SIGKILLed mid-run (scale-out), and the CLI
or a whole service SIGKILLed at seeded random points, then the run resumed.

Every run is ``codeeval bench`` on pre-made samples (:mod:`reliability.faults_replicas`), compared with
an undisturbed run of the same samples on the same replicas: verdicts, outcomes and the analyzer's
reports must be equal, every program executed exactly once in executions.jsonl, nothing missing.
Cost: one bench run per injection plus the undisturbed one (tens of seconds each for the short
profile's items), and a service restart per service kill.
"""

from __future__ import annotations

import random
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from codeeval.cli.main import ExitCode
from reliability.context import Context
from reliability.faults_replicas import (
    Fleet,
    Outcome,
    Replica,
    bench,
    differences,
    finish,
    lines,
    read_outcome,
    run_deadline,
)
from reliability.report import Section

#: Exit status of the CLI when a service failed (the run resumes once it is back).
SERVICE_FAILED = int(ExitCode.SERVICE_FAILED)


@dataclass
class Inputs:
    suite: Path
    samples: Path
    items: int
    expected: dict[tuple[str, int], bool]
    #: How the undisturbed run's calls spread over each service's replicas (filled by :func:`reference`).
    spread: dict[str, str] = field(default_factory=dict)
    #: The undisturbed run's calls per service, all replicas together (filled by :func:`reference`).
    calls: dict[str, int] = field(default_factory=dict)

    @property
    def programs(self) -> int:
        return len(self.expected)


def reference(ctx: Context, fleet: Fleet, inputs: Inputs) -> tuple[Outcome, float, list[str]]:
    """The undisturbed run: its outcome, its wall time, and its problems (verdicts other than the known
    ones, a failed run, calls not spread over the replicas)."""
    out = ctx.workdir / "reference"
    t0 = time.monotonic()
    rc = finish(bench(out, inputs.suite, inputs.samples, inputs.items, fleet.env()), run_deadline())
    took = time.monotonic() - t0
    ref = read_outcome(out)
    problems = [] if rc == 0 else [f"the undisturbed run exited {rc} (see {out}.log)"]
    if ref.verdicts != inputs.expected:
        wrong = sorted(k for k in inputs.expected if ref.verdicts.get(k) != inputs.expected[k])
        problems.append(f"undisturbed verdicts differ from the known ones on {len(wrong)} samples: {wrong[:3]}")
    for service, method in (("sandbox", "ExecuteBatch"), ("analyzer", "Analyze")):
        served = {r.name: r.served(method) for r in fleet.replicas[service]}
        inputs.spread[service] = f"{method} calls per replica in the undisturbed run: {served}"
        inputs.calls[service] = sum(served.values())
        idle = [name for name, n in served.items() if n == 0]
        if idle:
            problems.append(f"round robin did not spread {method}: {', '.join(idle)} served none")
    return ref, took, problems


def _running(replicas: list[Replica]) -> Replica | None:
    """A sandbox replica with runs (child processes) in flight."""
    return next((r for r in replicas if r.alive and r.children() > 0), None)


def _analyzer_victim(replicas: list[Replica], before: dict[str, int], expected: int) -> tuple[Replica, str] | None:
    """The analyzer replica to kill once the run's analyze stage is under way: its first Analyze call
    answered (the replicas' access logs) and calls still to come. The victim is the replica that has
    answered fewer of this run's calls: round robin's next, the one the following call is on now (or
    meets, dead). Read from data: a CPU sample slips between the calls of a fast stage."""
    served = {r.name: r.served("Analyze") - before[r.name] for r in replicas}
    answered = sum(served.values())
    if answered < 1 or answered >= expected:
        return None
    victim = min((r for r in replicas if r.alive), key=lambda r: served[r.name])
    return victim, f"{victim.name} (round robin's next) after {answered} of the run's {expected} Analyze calls"


def scale_out(ctx: Context, fleet: Fleet, inputs: Inputs, ref: Outcome) -> list[Section]:
    """One bench run: a sandbox replica SIGKILLed while it runs programs (after a quarter of the
    executions), then an analyzer replica SIGKILLed while it analyses; both restarted afterwards."""
    out = ctx.workdir / "scale-out"
    t0 = time.monotonic()
    proc = bench(out, inputs.suite, inputs.samples, inputs.items, fleet.env())
    executions = out / "base" / "executions.jsonl"
    killed: dict[str, str] = {}
    analyzed = {r.name: r.served("Analyze") for r in fleet.replicas["analyzer"]}
    deadline = run_deadline()
    while proc.poll() is None and time.monotonic() < deadline and len(killed) < 2:
        done = lines(executions)
        if "sandbox" not in killed and done >= inputs.programs // 4:
            victim = _running(fleet.replicas["sandbox"])
            if victim is not None:
                victim.kill()
                killed["sandbox"] = f"{victim.name} with runs in flight after {done}/{inputs.programs} executions"
        if "analyzer" not in killed and done >= len(ref.needed):
            chosen = _analyzer_victim(fleet.replicas["analyzer"], analyzed, inputs.calls["analyzer"])
            if chosen is not None:
                chosen[0].kill()
                killed["analyzer"] = chosen[1]
        time.sleep(0.02)
    rc = finish(proc, deadline)
    took = time.monotonic() - t0
    got = read_outcome(out)
    fleet.heal()  # in the background: the next figure runs on the survivors meanwhile
    sections = []
    for service, unit in (("sandbox", "programs"), ("analyzer", "files")):
        problems = [] if rc == 0 else [f"the run exited {rc} instead of finishing (see {out}.log)"]
        if service not in killed:
            problems.append(f"no {service} replica was busy when the kill was due: nothing injected")
        diffs = differences(got, ref)
        problems += [d for d in diffs if service == "sandbox" or "analyzer" in d]
        lost = got.missing if service == "sandbox" else len(ref.analyses.keys() - got.analyses.keys())
        survived = len(got.executed) if service == "sandbox" else len(got.analyses)
        sections.append(Section(
            title=f"one of two {service} replicas SIGKILLed mid-run (round robin)", service=service, area="fault",
            rows=[{"replicas": len(fleet.replicas[service]), "kills": int(service in killed),
                   unit: len(ref.needed), f"{unit} in the results": survived,
                   "executed twice": got.duplicates if service == "sandbox" else 0,
                   "equal to undisturbed": not diffs, "lost": lost, "run (s)": round(took)}],
            lost=lost, problems=problems, seconds=took,
            notes=[f"killed: {killed.get(service, 'none')}", inputs.spread.get(service, ""),
                   f"target ipv4:127.0.0.1:A,127.0.0.1:B; {inputs.items} HumanEval items x (canonical, broken)"]))
    return sections


def _wait_kill_point(rng: random.Random, proc: subprocess.Popen[bytes], executions: Path, ref_s: float,
                     programs: int, mid_execute: bool) -> str:
    """Wait for a seeded random point of the run: with ``mid_execute``, every other point is a random
    count of executions (so kills land inside the execute stage, which a random time often misses),
    otherwise a random time in the undisturbed run's span. Returns what the point was when reached
    (bounded: at most 1.5 x the undisturbed run's time)."""
    t0 = time.monotonic()
    if mid_execute and programs > 1 and rng.random() < 0.5:
        k = rng.randint(1, programs - 1)
        while proc.poll() is None and lines(executions) < k and time.monotonic() - t0 < ref_s * 1.5:
            time.sleep(0.05)
        point = f"at {k} executions"
    else:
        delay = rng.uniform(0.5, max(1.0, ref_s * 0.9))
        while proc.poll() is None and time.monotonic() - t0 < delay:
            time.sleep(0.05)
        point = f"at {delay:.1f}s"
    state = "already finished" if proc.poll() is not None else f"{lines(executions)} executions"
    return f"{point} ({state}, {time.monotonic() - t0:.1f}s)"


def cli_kills(ctx: Context, fleet: Fleet, inputs: Inputs, ref: Outcome, ref_s: float, rounds: int) -> Section:
    """``rounds`` SIGKILLs of the CLI (its whole process group) at seeded random points of one run's
    life, each followed by the same command (a resume); the last resume runs to the end."""
    rng = random.Random(ctx.profile.seed)
    out = ctx.workdir / "cli-kills"
    t0 = time.monotonic()
    at = []
    for _ in range(rounds):
        proc = bench(out, inputs.suite, inputs.samples, inputs.items, fleet.env())
        at.append(_wait_kill_point(rng, proc, out / "base" / "executions.jsonl", ref_s, len(ref.needed), True))
        finish(proc, time.monotonic())  # kills the group when still running
    rc = finish(bench(out, inputs.suite, inputs.samples, inputs.items, fleet.env()), run_deadline())
    took = time.monotonic() - t0
    got = read_outcome(out)
    problems = ([] if rc == 0 else [f"the final resume exited {rc} (see {out}.log)"]) + differences(got, ref)
    return Section(title="the CLI SIGKILLed at random points, then resumed", service="cli", area="fault",
                   rows=[{"kills": rounds, "programs": len(ref.needed), "programs in the results": len(got.executed),
                          "executed twice": got.duplicates, "equal to undisturbed": not differences(got, ref),
                          "lost": got.missing}],
                   lost=got.missing, problems=problems, seconds=took,
                   notes=[f"seed {ctx.profile.seed}; killed {'; '.join(at)}"])


def service_kills(ctx: Context, fleet: Fleet, inputs: Inputs, ref: Outcome, ref_s: float, rounds: int,
                  service: str) -> Section:
    """``rounds`` times: every replica of ``service`` SIGKILLed at a seeded random point of a run; the
    run either finishes (the service was no longer needed) or stops with the CLI's service-failed
    status; the replicas are restarted on their ports and the same command resumes."""
    rng = random.Random(f"{ctx.profile.seed}-{service}")
    out = ctx.workdir / f"{service}-kills"
    fleet.wait_healed()
    t0 = time.monotonic()
    at, statuses = [], []
    problems: list[str] = []
    for _ in range(rounds):
        proc = bench(out, inputs.suite, inputs.samples, inputs.items, fleet.env(), wait_s=3)
        at.append(_wait_kill_point(rng, proc, out / "base" / "executions.jsonl", ref_s, len(ref.needed),
                                   service == "sandbox"))
        for r in fleet.replicas[service]:
            r.kill()
        fleet.heal()  # restarts on the same ports while the CLI notices
        rc = finish(proc, run_deadline())
        statuses.append(rc)
        if rc not in (0, SERVICE_FAILED):
            problems.append(f"with the {service} down the CLI exited {rc}, not {SERVICE_FAILED} (see {out}.log)")
        fleet.wait_healed()
    rc = finish(bench(out, inputs.suite, inputs.samples, inputs.items, fleet.env()), run_deadline())
    took = time.monotonic() - t0
    got = read_outcome(out)
    problems += ([] if rc == 0 else [f"the final resume exited {rc} (see {out}.log)"]) + differences(got, ref)
    return Section(title=f"every {service} replica SIGKILLed at random points, restarted, run resumed",
                   service=service, area="fault",
                   rows=[{"kills": rounds, "runs stopped (resumable)": statuses.count(SERVICE_FAILED),
                          "programs": len(ref.needed), "programs in the results": len(got.executed),
                          "executed twice": got.duplicates, "equal to undisturbed": not differences(got, ref),
                          "lost": got.missing}],
                   lost=got.missing, problems=problems, seconds=took,
                   notes=[f"seed {ctx.profile.seed}; killed {'; '.join(at)}; CLI statuses {statuses}"])
