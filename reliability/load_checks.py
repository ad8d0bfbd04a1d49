"""The load area's measurements and judges, shared by the three services: latency percentiles, a
service process's resources read from ``/proc`` (RSS, open fds, its process tree), and the checks
that turn them into ``problems`` (resources that grew, a verdict that differs from the expected one,
a result that never came back).

Every checker is a pure function of what was recorded, so the fast tests can plant a leak, a wrong
verdict or a lost stream and see it caught. Cost: reading ``/proc/<pid>`` (a few files per process
of the tree) per sample.
"""

from __future__ import annotations

import itertools
import math
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from codeeval.kit.client import LocalService

PROC = Path("/proc")


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) by the nearest-rank method; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


#: The RSS plateau that ends a warm-up (the analyzer's load figure and every bad-input figure): the
#: last PLATEAU_ROUNDS rounds left the service's RSS under its highest reading before them grown by
#: PLATEAU_GROWTH (:func:`plateau_reached`).
PLATEAU_GROWTH, PLATEAU_ROUNDS = 0.01, 2


def plateau_reached(rss: Sequence[int], growth: float = PLATEAU_GROWTH, rounds: int = PLATEAU_ROUNDS) -> bool:
    """True when the last ``rounds`` values of ``rss`` (one after each round) stayed under the highest
    value before them grown by ``growth`` (a fraction): the top of the band stopped rising. At the
    plateau a service's RSS still swings from round to round (the analyzer's 224-257 MiB over 15
    warm-up rounds of a short profile), and a rule on consecutive steps waited out every swing up
    to its round bound; the figure's baseline is that top (:func:`plateau_level`), so the top is what
    must have stopped growing. On a rising series it asks for less than ``growth`` over all the
    ``rounds``, not over each."""
    if len(rss) < rounds + 1:
        return False
    return max(rss[-rounds:]) < max(rss[:-rounds]) * (1 + growth)


def plateau_level(rss: Sequence[int], rounds: int = PLATEAU_ROUNDS) -> int:
    """The top of the band the plateau's window of ``rss`` spans (its last ``rounds`` + 1 values, 0
    when empty). At the plateau a service's RSS still swings from round to round with the order its
    concurrent calls ran in (the analyzer's: 238-259 MiB over its last six warm-up rounds of a short
    profile), so one reading is a point anywhere in that band, not the level that growth is
    measured from."""
    return max(rss[-rounds - 1:], default=0)


def rss_bytes(pid: int) -> int:
    """Resident set size of ``pid`` (VmRSS), 0 when it has exited."""
    try:
        for line in (PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def open_fds(pid: int) -> int:
    """Open file descriptors of ``pid`` (entries of /proc/<pid>/fd), -1 when unreadable."""
    try:
        return len(os.listdir(PROC / str(pid) / "fd"))
    except OSError:
        return -1


@dataclass
class Started:
    """A service a load figure started (``codeeval serve`` as a child process on loopback)."""

    service: LocalService

    @property
    def pid(self) -> int:
        assert self.service.proc is not None
        return self.service.proc.pid

    def stop(self) -> None:
        self.service.stop()


@dataclass(frozen=True)
class Proc:
    ppid: int
    uid: int
    state: str  # R, S, D, Z (zombie: exited, waiting for its parent to reap it), ...


def _stat(pid: int) -> Proc | None:
    """``pid``'s parent, owner and state, None when it has gone."""
    try:
        fields = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
        uid = (PROC / str(pid)).stat().st_uid
        return Proc(int(fields[1]), uid, fields[0])
    except (OSError, ValueError, IndexError):
        return None


def cmdline(pid: int) -> str:
    """``pid``'s command line, arguments joined by spaces ('' when it has gone or is a zombie)."""
    try:
        return (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def processes() -> dict[int, Proc]:
    """Every process of the host: pid -> :class:`Proc`. Cost: two reads per process."""
    out = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            st = _stat(int(entry.name))
            if st is not None:
                out[int(entry.name)] = st
    return out


def descendants(root: int, table: dict[int, Proc] | None = None) -> set[int]:
    """The pids below ``root`` in the process tree."""
    table = processes() if table is None else table
    children: dict[int, list[int]] = {}
    for pid, proc in table.items():
        children.setdefault(proc.ppid, []).append(pid)
    out: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in out:
                out.add(child)
                todo.append(child)
    return out


def leftovers(uids: range, service: int, table: dict[int, Proc] | None = None) -> tuple[set[int], set[int]]:
    """Processes of ``uids`` (a sandbox's slot uids) at a quiet moment: (left behind, orphaned
    zombies). Left behind: alive, or a zombie the service itself has not reaped. Orphaned zombies
    (exited, re-parented to the host's init, which reaps them on its own schedule) are not leaks of
    the service and are reported apart."""
    table = processes() if table is None else table
    mine = {pid for pid, p in table.items() if p.uid in uids}
    orphans = {pid for pid in mine if table[pid].state == "Z" and table[pid].ppid == 1 and service != 1}
    return mine - orphans, orphans


@dataclass
class Sample:
    """One reading of a service at a quiet moment (nothing in flight): after ``runs`` results."""

    runs: int
    rss: int
    fds: int
    tree: int
    leftover_processes: int = 0
    leftover_dirs: int = 0
    leftover_cgroups: int = 0   # run cgroups beyond what the service keeps ready (see run_groups)
    #: run cgroups that exist (names): a service may keep groups made ahead for its next runs, but
    #: each serves one run, so a name still there in the next sample taken after more runs is a leak
    run_groups: frozenset[str] = frozenset()
    #: exited children in the tree that their parent has not reaped yet (pids: a zombie keeps its pid
    #: until it is reaped, so the same pid in a later sample is the same unreaped child)
    zombie_pids: frozenset[int] = frozenset()
    #: those of them whose parent is not one of the service's warm workers that reap a finished
    #: child when their next job arrives (a sandbox's Python judges)
    stray_zombies: int = 0

    @property
    def zombies(self) -> int:
        return len(self.zombie_pids)


@dataclass
class Flatness:
    """What must not grow between the warm-up sample and the last one: RSS by at most
    ``rss_tolerance`` (a fraction), open fds and the live process tree not at all; leftovers
    (processes of the run uids, run directories, run cgroups) must be 0 in every sample. Unreaped
    children (zombies) are judged exactly, without a count allowance: in every sample each must be a
    child of a warm worker (``stray_zombies`` 0), and none may still be there in the next sample taken
    after more runs (a warm worker reaps its finished children when its next job arrives, and every
    round gives each worker jobs), see :func:`flatness_problems`."""

    rss_tolerance: float = 0.05
    samples: list[Sample] = field(default_factory=list)

    def add(self, sample: Sample) -> None:
        self.samples.append(sample)

    def problems(self, service: str) -> list[str]:
        return flatness_problems(self.samples, service, self.rss_tolerance)

    def figures(self) -> dict[str, str]:
        """First and last sample, for a report row or note."""
        if not self.samples:
            return {}
        a, b = self.samples[0], self.samples[-1]
        return {"RSS MiB (warm -> end)": f"{a.rss / 2**20:.0f} -> {b.rss / 2**20:.0f}",
                "fds (warm -> end)": f"{a.fds} -> {b.fds}",
                "processes (warm -> end)": f"{a.tree} -> {b.tree}",
                "unreaped children of the warm workers (most in a sample)": str(max(s.zombies for s in self.samples)),
                "samples": str(len(self.samples))}


def flatness_problems(samples: Sequence[Sample], service: str, rss_tolerance: float = 0.05) -> list[str]:
    """One line per violated property over ``samples`` (the first is the warm-up baseline). ``tree``
    counts live processes only. Unreaped children: any whose parent is not a warm worker, in any
    sample, is a problem; so is any (same pid) still unreaped in the next sample taken after more
    runs, since its parent had jobs in between and did not reap it."""
    if not samples:
        return [f"{service}: no resource sample was taken"]
    out = []
    base, last = samples[0], samples[-1]
    if base.rss and last.rss > base.rss * (1 + rss_tolerance):
        out.append(f"{service} RSS grew {100 * (last.rss / base.rss - 1):.1f}% (> {100 * rss_tolerance:.0f}%): "
                   f"{base.rss / 2**20:.1f} MiB after warm-up, {last.rss / 2**20:.1f} MiB after {last.runs} runs")
    if last.fds > base.fds:
        out.append(f"{service} open fds grew from {base.fds} after warm-up to {last.fds} after {last.runs} runs")
    if last.tree > base.tree:
        out.append(f"{service} process tree grew from {base.tree} after warm-up to {last.tree} after "
                   f"{last.runs} runs")
    stray = [s for s in samples if s.stray_zombies]
    if stray:
        worst = max(stray, key=lambda s: s.stray_zombies)
        out.append(f"{service}: unreaped children of other processes than its warm workers in {len(stray)} of "
                   f"{len(samples)} quiet samples (up to {worst.stray_zombies}, after {worst.runs} runs)")
    kept = [(a, b, a.zombie_pids & b.zombie_pids) for a, b in itertools.pairwise(samples) if b.runs > a.runs]
    kept = [(a, b, pids) for a, b, pids in kept if pids]
    if kept:
        a, b, pids = kept[0]
        out.append(f"{service}: children left unreaped while more runs went on in {len(kept)} of "
                   f"{len(samples) - 1} rounds (first: pids {sorted(pids)[:5]}, unreaped from {a.runs} to "
                   f"{b.runs} runs)")
    groups = [(a, b, a.run_groups & b.run_groups) for a, b in itertools.pairwise(samples) if b.runs > a.runs]
    groups = [(a, b, names) for a, b, names in groups if names]
    if groups:
        a, b, names = groups[0]
        out.append(f"{service}: run cgroups left while more runs went on in {len(groups)} of {len(samples) - 1} "
                   f"rounds (first: {sorted(names)[:3]}, there from {a.runs} to {b.runs} runs)")
    for name in ("leftover_processes", "leftover_dirs", "leftover_cgroups"):
        bad = [s for s in samples if getattr(s, name)]
        if bad:
            worst = max(bad, key=lambda s: getattr(s, name))
            out.append(f"{service}: {name.replace('_', ' ')} in {len(bad)} of {len(samples)} quiet samples "
                       f"(up to {getattr(worst, name)}, after {worst.runs} runs)")
    return out


@dataclass(frozen=True)
class Verdict:
    """One result judged: the program's class and name, the outcomes it may end in, the one it got."""

    kind: str
    name: str
    expected: frozenset[str]
    got: str

    @property
    def ok(self) -> bool:
        return self.got in self.expected


def verdict_problems(verdicts: Iterable[Verdict], limit: int = 5) -> list[str]:
    """One line per (kind, name, got) that is not among the expected outcomes, with its count."""
    wrong = Counter((v.kind, v.name, v.got, "|".join(sorted(v.expected))) for v in verdicts if not v.ok)
    out = [f"{kind} program {name!r} ended {got} {n}x (expected {exp})"
           for (kind, name, got, exp), n in wrong.most_common(limit)]
    if len(wrong) > limit:
        out.append(f"... and {len(wrong) - limit} more kinds of wrong verdicts")
    return out


def lost_count(sent: int, received: int) -> int:
    """Results that never came back (never negative: duplicates are a separate problem)."""
    return max(0, sent - received)
