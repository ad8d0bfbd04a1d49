"""Per-run cgroups on v1 and v2 hosts: memory (no swap) and pids limits, peak memory, CPU time,
OOM kills, and killing whatever is left.

A run's cgroup nests under the service's own cgroup (read from /proc/self/cgroup), so a pod's or
a CI job's limits still bound the sandbox. Needs write access to the cgroup tree (root on a VM, or
a delegated subtree); :func:`detect` returns None otherwise and the backend falls back to rlimits.

Each service instance owns one group, ``GROUP/pid-<pid>-<nonce>`` (per controller on v1), and holds an
exclusive ``flock`` on that group's directory for its lifetime. The kernel drops the lock when the
instance ends, even by SIGKILL, so at start-up an instance sweeps exactly the groups whose lock it
can take: their owners are gone. Liveness is never read from ``/proc/<pid>``: an instance in another
pid namespace (a container, ``unshare --pid``), or a reused pid, would make a live instance's group
look dead or a dead one's look live. The lock lives in the cgroup tree itself, so it is seen by every
instance that shares the tree, whatever its pid namespace or uid lock directory. (Instances of a
version that did not lock their group are taken for dead.)
Cost: a few mkdir/write/rmdir calls per run (well under a millisecond); at start-up one
``open``/``flock`` per existing instance group.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
GROUP = "codeeval-sandbox"
#: Each backend instance gets ``GROUP/pid-<pid>-<random>`` (the pid is for people; liveness is the lock).
INSTANCE = "pid-{pid}-{nonce}"
#: rmdir attempts of a finished run's group (the kernel may still be reaping its last process).
DESTROY_ATTEMPTS = 50


def _own_path(controller: str) -> str:
    """The service's own cgroup path for ``controller`` ('' means the v2 unified hierarchy)."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(",") or (controller == "" and controllers == ""):
            return path.lstrip("/")
    return ""


@dataclass
class RunStats:
    peak_memory_bytes: int = 0
    cpu_time_ms: int = 0
    oom_killed: bool = False


class RunCgroup:
    """The cgroup(s) of one run: create, joined by the run's first process (the plain path's ``sh``
    through :meth:`procs_files`, the zygote's C2 through :meth:`open_self_join`), read, destroy."""

    def __init__(self, dirs: dict[str, Path], version: int) -> None:
        self.dirs = dirs
        self.version = version

    def procs_files(self) -> list[str]:
        return [str(d / "cgroup.procs") for d in dict.fromkeys(self.dirs.values())]

    def open_self_join(self) -> list[int]:
        """Descriptors (one per distinct group, opened by this process) through which a process
        moves itself into the run's groups by writing ``0``: the kernel checks the opener's
        credentials, so a process that could not open the files itself may use them. On v1 they
        are the ``tasks`` files: writing ``0`` there moves only the calling thread and skips the
        global threadgroup lock, whose writer waits out an RCU grace period (2-30 ms per run on
        this kernel, against ~0.1 ms); the caller must be single-threaded. On v2, ``cgroup.procs``.
        The caller closes them. Raises OSError."""
        name = "tasks" if self.version == 1 else "cgroup.procs"
        fds: list[int] = []
        try:
            for d in dict.fromkeys(self.dirs.values()):
                fds.append(os.open(d / name, os.O_WRONLY | os.O_CLOEXEC))
        except OSError:
            for fd in fds:
                os.close(fd)
            raise
        return fds

    def stats(self) -> RunStats:
        s = RunStats()
        mem = self.dirs["memory"]
        if self.version == 1:
            s.peak_memory_bytes = _read_int(mem / "memory.max_usage_in_bytes")
            s.oom_killed = _kv(mem / "memory.oom_control").get("oom_kill", 0) > 0
            s.cpu_time_ms = _read_int(self.dirs["cpuacct"] / "cpuacct.usage") // 1_000_000
        else:
            s.peak_memory_bytes = _read_int(mem / "memory.peak")
            s.oom_killed = _kv(mem / "memory.events").get("oom_kill", 0) > 0
            s.cpu_time_ms = _kv(mem / "cpu.stat").get("usage_usec", 0) // 1000
        return s

    def kill_all(self) -> None:
        """SIGKILL every process left in the run's cgroups (the pid namespace normally did it)."""
        if self.version == 2 and (self.dirs["memory"] / "cgroup.kill").exists():
            with contextlib.suppress(OSError):
                (self.dirs["memory"] / "cgroup.kill").write_text("1")
            return
        for procs in self.procs_files():
            for pid in _pids(Path(procs)):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)

    def destroy(self) -> None:
        """Kill leftovers and remove the directories (retrying while the kernel reaps)."""
        for attempt in range(DESTROY_ATTEMPTS):
            if self.try_destroy():
                return
            time.sleep(0.01 * (attempt + 1))

    def try_destroy(self) -> bool:
        """One attempt of :meth:`destroy` (kill leftovers, rmdir each directory): True when every
        directory is gone. Never sleeps."""
        self.kill_all()
        gone = True
        for d in dict.fromkeys(self.dirs.values()):
            try:
                d.rmdir()
            except FileNotFoundError:
                pass
            except OSError:
                gone = False
        return gone


class Cgroups:
    """Factory of per-run cgroups under the service's own cgroup."""

    def __init__(self, version: int, parents: dict[str, Path], locks: list[int] | None = None) -> None:
        self.version = version
        self.parents = parents
        #: Open, flock'ed descriptors of the instance groups (closed by :meth:`close`).
        self.locks = locks if locks is not None else []

    def create(self, memory_bytes: int, max_processes: int) -> RunCgroup:
        name = uuid.uuid4().hex[:16]
        dirs = {c: p / name for c, p in self.parents.items()}
        for d in dict.fromkeys(dirs.values()):
            d.mkdir()
        run = RunCgroup(dirs, self.version)
        try:
            mem, pids = dirs["memory"], dirs["pids"]
            if self.version == 1:
                (mem / "memory.limit_in_bytes").write_text(str(memory_bytes))
                if (mem / "memory.memsw.limit_in_bytes").exists():
                    (mem / "memory.memsw.limit_in_bytes").write_text(str(memory_bytes))
                (mem / "memory.swappiness").write_text("0")
            else:
                (mem / "memory.max").write_text(str(memory_bytes))
                if (mem / "memory.swap.max").exists():
                    (mem / "memory.swap.max").write_text("0")
            (pids / "pids.max").write_text(str(max_processes))
        except OSError:
            run.destroy()
            raise
        return run

    def describe(self) -> str:
        return f"cgroup v{self.version}"

    def close(self) -> None:
        """Remove this service instance's group (its runs are gone by now), then drop its locks."""
        for d in dict.fromkeys(self.parents.values()):
            _remove_tree(d)
        for fd in self.locks:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.locks = []


def detect() -> Cgroups | None:
    """Usable cgroups for per-run limits, or None (not root, read-only tree, controllers missing)."""
    cg: Cgroups | None = None
    try:
        if (ROOT / "cgroup.controllers").exists():  # v2 unified
            top = ROOT / _own_path("") / GROUP
            top.mkdir(exist_ok=True)
            needed = {"memory", "pids", "cpu"}
            parent_ctl = (top.parent / "cgroup.subtree_control")
            enabled = set(parent_ctl.read_text().split())
            if not needed <= enabled:
                parent_ctl.write_text(" ".join(f"+{c}" for c in sorted(needed - enabled)))
            (top / "cgroup.subtree_control").write_text("+memory +pids +cpu")
            cg = Cgroups(2, {})
            base = _instance(top, cg.locks)
            cg.parents = {"memory": base, "pids": base, "cpuacct": base}
            (base / "cgroup.subtree_control").write_text("+memory +pids +cpu")
            return _probe(cg)
        cg = Cgroups(1, {})
        for ctl in ("memory", "pids", "cpuacct"):
            if not (ROOT / ctl).is_dir():
                cg.close()
                return None
            top = ROOT / ctl / _own_path(ctl) / GROUP
            top.mkdir(exist_ok=True)
            if ctl == "memory" and (top / "memory.use_hierarchy").exists():
                with contextlib.suppress(OSError):
                    (top / "memory.use_hierarchy").write_text("1")
            cg.parents[ctl] = _instance(top, cg.locks)
        return _probe(cg)
    except OSError:
        if cg is not None:
            cg.close()
        return None


def sweep(top: Path) -> list[Path]:
    """Remove the instance groups under ``top`` whose owner is gone (their lock can be taken); return
    them. A group whose lock is held by a live instance, in any pid namespace, is never touched."""
    swept = []
    for old in sorted(top.glob("pid-*")):
        try:
            fd = os.open(old, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            continue  # removed meanwhile (by another instance's sweep)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue  # its instance lives
        try:
            _remove_tree(old)  # under its lock: a starting instance cannot claim it meanwhile
            swept.append(old)
        finally:
            os.close(fd)
    return swept


def _instance(top: Path, locks: list[int]) -> Path:
    """This instance's group under ``top``, flock'ed (the descriptor is appended to ``locks``), after
    sweeping the groups of instances that are gone. Raises OSError when no group can be made."""
    sweep(top)
    for _ in range(5):
        base = top / INSTANCE.format(pid=os.getpid(), nonce=uuid.uuid4().hex[:8])
        base.mkdir()
        try:
            fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:  # another instance's sweep removed it between mkdir and open
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # another instance's sweep took it between mkdir and flock
            os.close(fd)
            continue
        if base.exists() and os.stat(base).st_ino == os.fstat(fd).st_ino:
            locks.append(fd)
            return base
        os.close(fd)  # swept before we locked it: make another
    raise OSError(f"could not claim an instance group under {top}")


def _remove_tree(group: Path) -> None:
    """rmdir a cgroup and its (empty) children, killing what is left in them first."""
    for child in [p for p in group.iterdir() if p.is_dir()] if group.exists() else []:
        RunCgroup({"memory": child, "pids": child, "cpuacct": child}, 1).destroy()
    with contextlib.suppress(OSError):
        group.rmdir()


def _probe(cg: Cgroups) -> Cgroups | None:
    try:
        cg.create(64 << 20, 8).destroy()
    except OSError:
        cg.close()
        return None
    return cg


def _read_int(path: Path) -> int:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def _kv(path: Path) -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        for line in path.read_text().splitlines():
            k, _, v = line.partition(" ")
            if v.strip().isdigit():
                out[k] = int(v)
    except OSError:
        pass
    return out


def _pids(procs: Path) -> list[int]:
    try:
        return [int(p) for p in procs.read_text().split()]
    except (OSError, ValueError):
        return []
