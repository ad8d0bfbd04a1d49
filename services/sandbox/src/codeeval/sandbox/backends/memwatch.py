"""Watchdogs of one run: its memory where there are no cgroups (a pod), and (unshare backend) its
work dir's size where no size-capped tmpfs holds it.

Memory: a watchdog on the run's processes.

Every ``interval`` seconds it sums the private resident memory (``statm`` resident - shared) of
every process below the run's root process, plus what the run's own ``/dev/shm`` tmpfs holds, and
kills the run (``kill``) once the sum reaches the limit. Shared file pages (the interpreter, the
JDK) are not counted; tmpfs pages are counted once, through the tmpfs. The watchdog keeps a
descriptor of the run's ``/dev/shm`` open, so :meth:`MemoryWatch.finish` still sees what it held
after the run ended (a run that filled it and exited at once is still over the limit).

Cost: per sample one ``children`` read per thread and one ``statm`` read per process (well under a
millisecond for a run of a few processes); memory can overshoot the limit by what the run
allocates in one interval (RLIMIT_AS bounds single processes that allow it).

Work dir: :class:`DiskWatch` sums what the directory allocates (statvfs when it is a tmpfs of its
own, as a pod's memory-backed emptyDir is; else a walk, which also counts entries) and kills the
run past the limit; RLIMIT_FSIZE bounds each file in between samples.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from codeeval.sandbox.model import ProcessResult

PAGE = os.sysconf("SC_PAGE_SIZE")
PROC = Path("/proc")


class Watch(Protocol):
    """A watchdog: :meth:`run` samples until cancelled, :meth:`finish` after the run ended,
    :meth:`annotate` records what it saw in the run's result."""

    exceeded: bool

    async def run(self) -> None: ...

    def finish(self) -> None: ...

    def annotate(self, result: ProcessResult) -> None: ...


def descendants(root: int) -> list[int]:
    """``root`` and every process below it (empty when ``root`` is gone)."""
    seen: list[int] = []
    stack = [root]
    while stack:
        pid = stack.pop()
        try:
            tids = os.listdir(PROC / str(pid) / "task")
        except OSError:
            continue
        seen.append(pid)
        for tid in tids:
            with contextlib.suppress(OSError, ValueError):
                stack.extend(int(c) for c in (PROC / str(pid) / "task" / tid / "children").read_text().split())
    return seen


def private_rss(pid: int) -> int:
    """Resident bytes of ``pid`` that no file backs: anonymous pages plus mapped shared memory
    (``RssAnon + RssShmem``: a ``MAP_SHARED`` anonymous mapping, a mapped /dev/shm file). Shared pages
    count in every process that maps them (and a mapped /dev/shm file once more in the tmpfs), so the
    sum errs towards killing early. 0 when the process is gone."""
    total = 0
    try:
        for line in (PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith(("RssAnon:", "RssShmem:")):
                total += int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return 0
    return total


class MemoryWatch:
    """Watches the process tree under ``root`` against ``limit`` bytes; ``shm_bytes`` is the size of
    the run's own /dev/shm tmpfs (0: the run has none)."""

    def __init__(self, root: int, limit: int, kill: Callable[[], None], *, shm_bytes: int = 0,
                 interval: float = 0.05) -> None:
        self.root, self.limit, self.kill, self.shm_bytes, self.interval = root, limit, kill, shm_bytes, interval
        self.peak = 0
        self.exceeded = False
        self._rss = 0
        self._shm_fd: int | None = None
        self._host_shm = _dev_of("/dev/shm")

    async def run(self) -> None:
        """Sample until cancelled (or until the limit is reached: the run is then killed)."""
        while not self.exceeded:
            self.sample()
            await asyncio.sleep(self.interval)

    def sample(self) -> int:
        pids = descendants(self.root)
        if self.shm_bytes and self._shm_fd is None:
            self._open_shm(pids)
        self._rss = sum(private_rss(p) for p in pids)
        return self._account(self._rss + self._shm_used())

    def finish(self) -> None:
        """Account what the run's /dev/shm held at the end, then let it go."""
        if self._shm_fd is not None:
            self._account(self._rss + self._shm_used())
            os.close(self._shm_fd)
            self._shm_fd = None

    def annotate(self, result: ProcessResult) -> None:
        result.oom_killed = result.oom_killed or self.exceeded
        result.peak_memory_bytes = max(result.peak_memory_bytes, self.peak)

    def _account(self, total: int) -> int:
        self.peak = max(self.peak, total)
        if total >= self.limit and not self.exceeded:
            self.exceeded = True
            self.kill()
        return total

    def _open_shm(self, pids: list[int]) -> None:
        """Hold the run's /dev/shm: a tmpfs of ``shm_bytes`` other than the host's, seen through
        the root of a process inside the sandbox."""
        for pid in reversed(pids):
            try:
                fd = os.open(PROC / str(pid) / "root" / "dev" / "shm", os.O_RDONLY | os.O_DIRECTORY)
            except OSError:
                continue
            st, vfs = os.fstat(fd), os.fstatvfs(fd)
            if st.st_dev != self._host_shm and abs(vfs.f_blocks * vfs.f_frsize - self.shm_bytes) < 2 * PAGE:
                self._shm_fd = fd
                return
            os.close(fd)

    def _shm_used(self) -> int:
        if self._shm_fd is None:
            return 0
        vfs = os.fstatvfs(self._shm_fd)
        return (vfs.f_blocks - vfs.f_bfree) * vfs.f_frsize


def _dev_of(path: str) -> int:
    try:
        return os.stat(path).st_dev
    except OSError:
        return -1


class DiskWatch:
    """Watches the bytes (and entries) ``path`` holds against ``limit``; kills the run past it.
    What ``path`` held when the watch began (``staged`` bytes, for a walk) is not counted."""

    #: Entries a walk counts before it stops: a run holding more is over its bound too.
    MAX_ENTRIES = 20_000

    def __init__(self, path: Path, limit: int, kill: Callable[[], None], *, staged: int = 0,
                 interval: float = 0.1) -> None:
        self.path, self.limit, self.kill, self.interval, self.staged = path, limit, kill, interval, staged
        self.exceeded = False
        self.peak = 0
        self._mount = is_tmpfs_mount(path)
        self._baseline = self._statvfs_used() if self._mount else 0

    async def run(self) -> None:
        while not self.exceeded:
            await asyncio.to_thread(self.sample)
            await asyncio.sleep(self.interval)

    def sample(self) -> int:
        used = self._statvfs_used() - self._baseline if self._mount else self._walk() - self.staged
        self.peak = max(self.peak, used)
        if used > self.limit and not self.exceeded:
            self.exceeded = True
            self.kill()
        return used

    def finish(self) -> None:
        self.sample()

    def annotate(self, result: ProcessResult) -> None:
        if self.exceeded:
            note = (f"\n[sandbox] the work dir held more than its {self.limit} bytes (or "
                    f"{self.MAX_ENTRIES} entries); the run was stopped\n").encode()
            result.stderr += note
            result.stderr_tail = (result.stderr_tail + note)[-512:]

    def _statvfs_used(self) -> int:
        vfs = os.statvfs(self.path)
        return (vfs.f_blocks - vfs.f_bfree) * vfs.f_frsize

    def _walk(self) -> int:
        """Allocated bytes under ``path`` (never following links); past MAX_ENTRIES, over the limit."""
        total, entries, stack = 0, 0, [str(self.path)]
        while stack:
            try:
                it = os.scandir(stack.pop())
            except OSError:
                continue
            with it:
                for entry in it:
                    entries += 1
                    if entries > self.MAX_ENTRIES:
                        return self.limit + self.staged + 1
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    total += st.st_blocks * 512
                    if stat.S_ISDIR(st.st_mode):
                        stack.append(entry.path)
        return total


def is_tmpfs_mount(path: Path) -> bool:
    """Whether ``path`` is itself the mount point of a tmpfs (its statvfs then counts only it)."""
    target = os.path.realpath(path)
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return False
    for line in reversed(lines):  # the last mount on a point is the visible one
        fields = line.split(" - ")
        left = fields[0].split()
        if len(fields) == 2 and len(left) > 4 and left[4].encode().decode("unicode_escape") == target:
            return fields[1].split()[0] == "tmpfs"
    return False
