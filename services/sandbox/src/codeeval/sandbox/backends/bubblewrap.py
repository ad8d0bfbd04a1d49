"""bubblewrap backend: a fresh set of namespaces per run, no daemon, ~20 ms per Python run.

What one run gets (see SANDBOX.md for why each piece is there):
- an unprivileged host uid: when the service runs as root it drops to a per-slot uid with
  ``setpriv`` *before* bwrap (bwrap started as root with ``--uid`` still maps to host root);
- every namespace unshared (user, pid, net with only a down loopback, ipc, uts, cgroup), nested user
  namespaces disabled, all capabilities dropped, a new session, die-with-parent;
- read-only binds of /usr and the few /etc directories the toolchains need (never /etc as a whole),
  a size-capped tmpfs at /tmp as the work dir, the run's own files read-only at their targets, a
  read-only /dev whose /dev/shm is its own tmpfs capped at the memory limit;
- a seccomp filter (``seccomp_filter``), rlimits set by the first ``sh``'s ``ulimit`` (``prlimit``
  when a byte limit is not a whole number of ulimit's units; cpu, fsize, nofile, core, address
  space; nproc when there are no cgroups) and, where
  the cgroup tree is writable, per-run memory (no swap) and pids cgroups (v1 or v2); without
  cgroups (a pod) a watchdog (``memwatch``) kills a run whose processes and /dev/shm together reach
  the memory limit (MEMORY_EXCEEDED).

With ``python_zygote`` (root only, not the unshare subclass) a judged Python run that offers a
``ZygoteProgram`` is forked by the slot's warm zygote instead (``zygote.py``): the same root, the
same namespaces (fresh per run), tmpfs, rlimits, seccomp filter and cgroups, the candidate under
the slot's uid, the zygote under another; every other run takes the path above.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from codeeval.sandbox.backends import cgroups, zygote
from codeeval.sandbox.backends.base import WORK_DIR, Backend, SandboxCommand, StreamCollector, finished_result
from codeeval.sandbox.backends.memwatch import MemoryWatch, Watch
from codeeval.sandbox.backends.seccomp_filter import compile_filter
from codeeval.sandbox.model import ProcessResult

RO_SYSTEM_DIRS = ["/usr", "/etc/alternatives", "/etc/java-17-openjdk", "/etc/mono", "/etc/ssl/certs"]
SYMLINKS = {"/bin": "usr/bin", "/sbin": "usr/sbin", "/lib": "usr/lib", "/lib64": "usr/lib64"}
BASE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": WORK_DIR, "LANG": "C.UTF-8", "TMPDIR": WORK_DIR}
#: The sandbox's bwrap exits 1 with a "bwrap: " message when it cannot set up the sandbox.
SETUP_ERROR_PREFIX = b"bwrap: "


class BubblewrapBackend(Backend):
    """Runs commands under bwrap. ``uid_base`` .. ``uid_base + slots - 1`` are the host uids used when
    the service is root (one per concurrent run, so runs cannot signal or ptrace each other)."""

    name = "bubblewrap"
    tool = "bwrap"
    #: A run that exits 1 with stderr starting so could not be set up (a SANDBOX_ERROR, retried).
    setup_error_prefix = SETUP_ERROR_PREFIX
    #: Runs get their own /dev/shm tmpfs (capped at the memory limit: its pages are memory).
    has_shm = True

    def __init__(self, *, slots: int = 4, uid_base: int = 61000, use_seccomp: bool = True,
                 use_cgroups: bool = True, bwrap: str = "bwrap", python_zygote: bool = False) -> None:
        self.bwrap = shutil.which(bwrap) or bwrap
        self.slots = slots
        self.uid_base = uid_base
        self.use_seccomp = use_seccomp
        self.use_cgroups = use_cgroups
        self.cgroups: cgroups.Cgroups | None = None
        self.seccomp_path: Path | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._uids: asyncio.Queue[int] | None = None
        self.is_root = os.geteuid() == 0
        #: judged Python runs go through a warm zygote per slot (bubblewrap as root only)
        self.python_zygote = python_zygote and self.is_root and self.tool == "bwrap"
        self.zygotes: dict[int, zygote.Zygote] = {}
        #: per slot uid: an empty run cgroup made during that slot's previous zygote run, and its limits
        self._spare: dict[int, tuple[tuple[int, int], cgroups.RunCgroup]] = {}
        #: finished runs' cgroups still being removed (off the runs' critical path)
        self._retiring: set[cgroups.RunCgroup] = set()
        #: background cgroup work (spares being made, groups being removed), awaited at stop
        self._chores: set[asyncio.Future[None]] = set()
        #: /bin/sh's ``ulimit`` sets rlimits as :func:`ulimit_script` expects (checked at start); else prlimit
        self.shell_ulimit = False

    def version(self) -> str:
        out = subprocess.run([self.bwrap, "--version"], capture_output=True, text=True, timeout=10)
        return out.stdout.strip().removeprefix("bubblewrap ").strip()

    def describe(self) -> dict[str, str]:
        return {
            "bwrap": self.version(),
            "cgroups": self.cgroups.describe() if self.cgroups else "none (rlimits only)",
            "seccomp": "on" if self.seccomp_path else "off",
            "host_uid": f"{self.uid_base}+slot" if self.is_root else str(os.geteuid()),
            "python_zygote": "on" if self.python_zygote else "off",
            "rlimits": "sh ulimit" if self.shell_ulimit else "prlimit",
        }

    async def start(self) -> None:
        """Check bwrap exists, build the seccomp filter, find usable cgroups. Raises RuntimeError."""
        await asyncio.to_thread(self._check)
        self._tmp = tempfile.TemporaryDirectory(prefix="codeeval-bwrap-")
        if self.use_seccomp:
            self.seccomp_path = await asyncio.to_thread(compile_filter, Path(self._tmp.name) / "filter.bpf")
        if self.use_cgroups:
            self.cgroups = await asyncio.to_thread(cgroups.detect)
        self.shell_ulimit = await asyncio.to_thread(shell_sets_rlimits)
        self._uids = asyncio.Queue()
        for i in range(self.slots):
            self._uids.put_nowait(self.uid_base + i)

    def _check(self) -> None:
        if not Path(self.bwrap).exists():
            raise RuntimeError(f"bubblewrap not found ({self.bwrap}); apt-get install bubblewrap")

    async def stop(self) -> None:
        for z in self.zygotes.values():
            await asyncio.to_thread(z.stop)
        self.zygotes.clear()
        if self._chores:
            await asyncio.wait(list(self._chores))
        leftovers = [cg for _, cg in self._spare.values()] + list(self._retiring)
        self._spare.clear()
        self._retiring.clear()
        for cg in leftovers:
            await asyncio.to_thread(cg.destroy)
        if self.cgroups is not None:
            self.cgroups.close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def _drop_root(self, uid: int) -> list[str]:
        """As root: become the slot's unprivileged host uid before anything else runs."""
        if not self.is_root:
            return []
        return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--no-new-privs", "--"]

    def _argv(self, cmd: SandboxCommand, uid: int, seccomp_fd: int | None) -> list[str]:
        argv = self._drop_root(uid)
        argv += [self.bwrap, "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
                 "--new-session", "--cap-drop", "ALL", "--hostname", "sandbox", "--clearenv"]
        for d in RO_SYSTEM_DIRS:
            if Path(d).exists():
                argv += ["--ro-bind", d, d]
        for link, target in SYMLINKS.items():
            argv += ["--symlink", target, link]
        argv += ["--proc", "/proc", "--dev", "/dev", "--size", str(cmd.limits.memory_bytes), "--tmpfs", "/dev/shm",
                 "--size", str(cmd.work_dir_bytes), "--tmpfs", WORK_DIR]
        for b in cmd.binds:
            argv += ["--bind" if b.writable else "--ro-bind", str(b.host), b.target]
        argv += ["--remount-ro", "/dev", "--remount-ro", "/", "--chdir", WORK_DIR]
        for k, v in {**BASE_ENV, **cmd.env}.items():
            argv += ["--setenv", k, v]
        if seccomp_fd is not None:
            argv += ["--seccomp", str(seccomp_fd)]
        return [*argv, "--", *cmd.argv]

    def _limits_prefix(self, cmd: SandboxCommand, cg: cgroups.RunCgroup | None) -> tuple[list[str], dict[str, str]]:
        """``sh``: joins the run's cgroups and sets its rlimits, before setpriv and bwrap.

        Done by an exec'd shell, not a ``preexec_fn``: forking a multi-threaded gRPC server and running
        Python in the child can deadlock or crash; plain fork+exec cannot. The rlimits are set by the
        shell's ``ulimit`` (a builtin: no exec, ~1 ms of CPU less per run than ``prlimit``), except when
        a byte limit is not a whole number of ``ulimit``'s units (:func:`ulimit_script`) or the shell
        failed the start's check (:func:`shell_sets_rlimits`): then by ``prlimit``, exec'd by the shell.
        """
        limits = rlimits(cmd, cg is None, self.slots if not self.is_root else 0)
        # sh moves itself: ``0`` into a v1 ``tasks`` file skips the threadgroup lock and its RCU grace
        # period (2-30 ms per run; sh is single-threaded); a pid into ``cgroup.procs`` where there is none
        join = ('for d in $CODEEVAL_CGROUP_DIRS; do { echo 0 > "$d/tasks"; } 2>/dev/null || '
                'echo $$ > "$d/cgroup.procs" || exit 125; done; ')
        dirs = [str(d) for d in dict.fromkeys(cg.dirs.values())] if cg else []
        env = {"PATH": BASE_ENV["PATH"], "CODEEVAL_CGROUP_DIRS": " ".join(dirs)}
        ulimits = ulimit_script(limits) if self.shell_ulimit else None
        if ulimits is None:
            rl = [f"--{name}={soft}:{hard}" for name, (soft, hard) in limits.items()]
            return ["/bin/sh", "-c", join + 'exec "$@"', "sh", "prlimit", *rl, "--"], env
        return ["/bin/sh", "-c", join + ulimits + 'exec "$@"', "sh"], env

    def _watches(self, cmd: SandboxCommand, pid: int, kill: Callable[[], None],
                 cg: cgroups.RunCgroup | None) -> list[Watch]:
        """Watchdogs of one run (started with it, told the result): memory when there are no cgroups."""
        if cg is not None:
            return []
        return [MemoryWatch(pid, cmd.limits.memory_bytes, kill,
                            shm_bytes=cmd.limits.memory_bytes if self.has_shm else 0)]

    async def execute(self, cmd: SandboxCommand) -> ProcessResult:
        assert self._uids is not None, "start() first"
        uid = await self._uids.get()
        try:
            return await self._execute(cmd, uid)
        finally:
            self._uids.put_nowait(uid)

    def _zygote(self, cmd: SandboxCommand, uid: int) -> zygote.Zygote:
        """The slot's zygote, replaced when the run needs other trusted binds than it has."""
        assert cmd.zygote is not None
        env = tuple({**BASE_ENV, **cmd.env}.items())
        spec = zygote.ZygoteSpec(self.bwrap, tuple(d for d in RO_SYSTEM_DIRS if Path(d).exists()),
                                 tuple(SYMLINKS.items()), cmd.zygote.binds, env, self.seccomp_path)
        z = self.zygotes.get(uid)
        if z is None or z.spec != spec:
            if z is not None:
                z.stop()
            z = self.zygotes[uid] = zygote.Zygote(uid, spec)
        return z

    async def _execute_zygote(self, cmd: SandboxCommand, uid: int) -> ProcessResult:
        """A judged Python run through the slot's zygote. Its cgroup is the one made while the
        slot's previous run ran (when the limits match; else made here), the next run's is made
        while this one runs, and this one's is removed after the result, all in threads: no
        cgroup mkdir or rmdir waits on the run's path or stalls the event loop. Each group serves
        one run only."""
        lim = cmd.limits
        key = (lim.memory_bytes, lim.max_processes)
        cg: cgroups.RunCgroup | None = None
        spare = self._spare.pop(uid, None)
        if spare is not None and spare[0] != key:
            self._retiring.add(spare[1])
            self._chore(self._remove, spare[1])
            spare = None
        try:
            if spare is not None:
                cg = spare[1]
            elif self.cgroups is not None:
                cg = await asyncio.to_thread(self.cgroups.create, *key)
        except (OSError, RuntimeError) as exc:
            return ProcessResult(exit_code=-1, sandbox_failure=f"could not create the run's cgroups: {exc}")

        def prepare_next() -> None:
            if self.cgroups is not None and uid not in self._spare:
                self._chore(self._make_spare, uid, key)

        try:
            return await zygote.run(self._zygote(cmd, uid), cmd, cg, lim.max_processes,
                                    lambda pid, kill: self._watches(cmd, pid, kill, cg),
                                    on_started=prepare_next if cg is not None else None)
        finally:
            if cg is not None:  # after the result is handed on
                self._retiring.add(cg)
                self._chore(self._remove, cg)

    async def settle(self) -> set[Path]:
        """Wait for the background cgroup work (spares being made, finished runs' groups being
        removed); return the directories of the spares: groups made ahead for each slot's next
        zygote run, empty and never used (what a check for leftover run cgroups must allow)."""
        while self._chores:
            await asyncio.wait(list(self._chores))
        return {d for _, cg in self._spare.values() for d in cg.dirs.values()}

    def _chore(self, work: Callable[..., None], *args: object) -> None:
        """Run ``work(*args)`` in a thread, off the event loop (cgroup mkdir, rmdir and their
        writes can wait on the kernel for milliseconds); awaited at :meth:`stop`."""
        task = asyncio.ensure_future(asyncio.to_thread(work, *args))
        self._chores.add(task)
        task.add_done_callback(self._chores.discard)

    def _make_spare(self, uid: int, key: tuple[int, int]) -> None:
        """The slot's next run's cgroup (made while its current run runs; a thread)."""
        assert self.cgroups is not None
        with contextlib.suppress(OSError, RuntimeError):
            cg = self.cgroups.create(*key)
            if self._spare.setdefault(uid, (key, cg))[1] is not cg:
                cg.destroy()

    def _remove(self, cg: cgroups.RunCgroup) -> None:
        """Remove a finished run's cgroup, retrying while the kernel reaps its last process (a
        thread; given up after ``cgroups.DESTROY_ATTEMPTS``: the instance group's removal at stop
        sweeps it)."""
        try:
            cg.destroy()
        finally:
            self._retiring.discard(cg)

    async def _execute(self, cmd: SandboxCommand, uid: int) -> ProcessResult:
        if cmd.zygote is not None and self.python_zygote:
            return await self._execute_zygote(cmd, uid)
        lim = cmd.limits
        cg: cgroups.RunCgroup | None = None
        seccomp_fd: int | None = None
        try:
            if self.cgroups is not None:
                cg = await asyncio.to_thread(self.cgroups.create, lim.memory_bytes, lim.max_processes)
            if self.seccomp_path is not None and self.tool == "bwrap":
                seccomp_fd = os.open(self.seccomp_path, os.O_RDONLY)
            start = time.monotonic()
            prefix, env = self._limits_prefix(cmd, cg)
            proc = await asyncio.create_subprocess_exec(
                *prefix, *self._argv(cmd, uid, seccomp_fd), stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                pass_fds=((seccomp_fd,) if seccomp_fd is not None else ()) + cmd.pass_fds, env=env,
            )
        except (OSError, subprocess.SubprocessError, RuntimeError) as exc:
            if cg is not None:
                await asyncio.to_thread(cg.destroy)
            return ProcessResult(exit_code=-1, sandbox_failure=f"could not start the sandbox: {exc}")
        finally:
            if seccomp_fd is not None:
                os.close(seccomp_fd)

        def kill() -> None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            if cg is not None:
                cg.kill_all()

        out = StreamCollector(lim.output_bytes, cmd.output_hard_bytes, kill)
        err = StreamCollector(lim.output_bytes, cmd.output_hard_bytes, kill)
        watches = self._watches(cmd, proc.pid, kill, cg)
        watchers = [asyncio.create_task(w.run()) for w in watches]
        assert proc.stdout and proc.stderr and proc.stdin
        readers = [asyncio.create_task(out.drain(proc.stdout)), asyncio.create_task(err.drain(proc.stderr))]
        writer = asyncio.create_task(_feed(proc.stdin, cmd.stdin))
        timed_out = False
        try:
            await asyncio.wait_for(proc.wait(), lim.wall_time_ms / 1000)
        except TimeoutError:
            timed_out = True
            kill()
            await proc.wait()
        except asyncio.CancelledError:
            kill()
            await asyncio.shield(proc.wait())
            raise
        finally:
            wall_ms = int((time.monotonic() - start) * 1000)
            if cg is not None:
                cg.kill_all()
            for watcher in watchers:
                watcher.cancel()
            for w in watches:
                w.finish()
            _, pending = await asyncio.wait([*readers, writer], timeout=2)
            for task in pending:
                task.cancel()
        stats = cgroups.RunStats()
        if cg is not None:
            stats = cg.stats()
            await asyncio.to_thread(cg.destroy)
        code = proc.returncode if proc.returncode is not None else -1
        sig = -code if code < 0 else (code - 128 if code > 128 and code - 128 < 65 else 0)
        result = finished_result(code, sig, out, err, timed_out=timed_out, stats=stats, wall_ms=wall_ms,
                                 cpu_limit_ms=lim.cpu_time_ms)
        for w in watches:
            w.annotate(result)
        if code == 1 and err.head.startswith(self.setup_error_prefix):
            detail = err.head[:200].decode(errors="replace")
            result.sandbox_failure = f"{self.tool} could not set up the sandbox: {detail}"
        elif code == 125 and not err.head.startswith(b"\x1e"):
            detail = err.head[:200].decode(errors="replace")
            result.sandbox_failure = f"could not join the run's cgroups or set its rlimits: {detail}"
        return result


#: ``prlimit``'s name of each rlimit a run gets -> dash's ``ulimit`` option and its unit in bytes
ULIMIT_OPTIONS = {"cpu": ("t", 1), "fsize": ("f", 512), "nofile": ("n", 1), "core": ("c", 512),
                  "as": ("v", 1024), "nproc": ("p", 1)}


def rlimits(cmd: SandboxCommand, no_cgroups: bool, shared_uid_slots: int) -> dict[str, tuple[int, int]]:
    """The run's rlimits, by ``prlimit``'s names: (soft, hard). RLIMIT_NPROC only without a pids
    cgroup (it counts the host uid's tasks: shared by all slots when ``shared_uid_slots``, i.e. not root)."""
    lim = cmd.limits
    cpu_s = max(1, -(-lim.cpu_time_ms // 1000))
    out = {"cpu": (cpu_s, cpu_s + 1), "fsize": (lim.max_file_bytes, lim.max_file_bytes), "nofile": (256, 256),
           "core": (0, 0)}
    if cmd.limit_address_space:
        out["as"] = (lim.memory_bytes, lim.memory_bytes)
    if no_cgroups:
        nproc = lim.max_processes * shared_uid_slots + 64 if shared_uid_slots else lim.max_processes
        out["nproc"] = (nproc, nproc)
    return out


def ulimit_script(limits: dict[str, tuple[int, int]]) -> str | None:
    """dash ``ulimit`` commands setting exactly ``limits`` (soft and hard), exiting 125 when one fails;
    None when a value is not a whole number of its ``ulimit`` unit (512-byte blocks, KiB): the caller
    uses ``prlimit``. Without -H or -S dash sets both; a soft limit below the hard one is lowered after."""
    parts = []
    for name, (soft, hard) in limits.items():
        opt, unit = ULIMIT_OPTIONS[name]
        if soft % unit or hard % unit or soft < 0 or soft > hard:
            return None
        parts.append(f"ulimit -{opt} {hard // unit}")
        if soft != hard:
            parts.append(f"ulimit -S -{opt} {soft // unit}")
    return " && ".join(parts) + " || exit 125; "  # dash's ulimit says why on stderr


#: ``prlimit``'s name of each rlimit -> its line in /proc/PID/limits
PROC_LIMITS = {"cpu": "Max cpu time", "fsize": "Max file size", "nofile": "Max open files",
               "core": "Max core file size", "as": "Max address space", "nproc": "Max processes"}
#: the check's limits: every kind, a soft limit below its hard one, byte limits in whole units
PROBE_LIMITS = {"cpu": (2, 3), "fsize": (3 << 20, 3 << 20), "nofile": (64, 64), "core": (0, 0),
                "as": (1 << 30, 1 << 30), "nproc": (4096, 4096)}


def shell_sets_rlimits(shell: str = "/bin/sh") -> bool:
    """Whether ``shell`` running :func:`ulimit_script` gives exactly its limits (dash's units; bash
    counts ``-f`` in KiB outside POSIX mode, others may lack an option): checked once, at start, by
    the same script reading back /proc/self/limits. False (use ``prlimit``) on any doubt."""
    script = ulimit_script(PROBE_LIMITS)
    assert script is not None
    try:
        out = subprocess.run([shell, "-c", script + "exec cat /proc/self/limits"], capture_output=True,
                             text=True, timeout=10, env={"PATH": BASE_ENV["PATH"]})
    except (OSError, subprocess.SubprocessError):
        return False
    if out.returncode != 0:
        return False
    got = {}
    for line in out.stdout.splitlines():
        head, _, rest = line.partition("  ")
        got[head] = rest.split()[:2]
    return all(got.get(PROC_LIMITS[name]) == [str(soft), str(hard)] for name, (soft, hard) in PROBE_LIMITS.items())


async def _feed(stdin: asyncio.StreamWriter, data: bytes) -> None:
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        if data:
            stdin.write(data)
            await stdin.drain()
        stdin.close()
        await stdin.wait_closed()
