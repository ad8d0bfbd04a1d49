"""Host side of the Python zygote: one warm ``support/py_zygote.py`` per slot uid, which forks each
judged Python run into fresh namespaces instead of starting bubblewrap and an interpreter.

Root only (a user namespace mapping two host uids needs a privileged writer of its uid_map).
Starting a slot's zygote (:meth:`Zygote.start`, ~0.1 s, once per slot and after a failure):
1. a *holder* process (``setpriv`` to the zygote's uid ``slot uid + ZYGOTE_UID_OFFSET``, then
   ``unshare --user``) creates a user namespace owned by the zygote's uid; the service writes its
   uid and gid maps: 0 -> the zygote's uid, 1 -> the slot's uid (the candidate's, as today), keeps
   a descriptor of the namespace and kills the holder;
2. ``setpriv`` to the zygote's uid, then bubblewrap joins that namespace (``--userns``), keeps its
   capabilities there (``--cap-add ALL``: the zygote must unshare and mount per run) and builds
   the same root as a run's (read-only /usr and the few /etc directories, /proc, a read-only /dev,
   new pid, net, ipc, uts and cgroup namespaces, a new session, die-with-parent), plus the trusted
   support and worker directories read-only; no work dir and no run's files;
3. the zygote imports the worker and common modules, makes itself not dumpable and says ``R``.

Per run (:func:`run`): pipes for stdin/stdout/stderr, the judge channel and a fresh control
socketpair go to the zygote in one message (see py_zygote.py). The run's pid 1 (C2) sends its
credentials; the kernel gives the service its host pid, which the service writes into the run's
cgroups (before any candidate code: C2 waits) and opens as a pidfd; then the service sends the
source, and C2 isolates itself (tmpfs, /proc, rlimits, uid 1, no capabilities, no_new_privs,
seccomp) and imports it. The wall limit, the output limit and the memory watchdog kill C2 through
the pidfd and the cgroup (its pid namespace dies with it). A zygote that does not answer, dies or
reports no status is a ``sandbox_failure`` for the run in flight (a SANDBOX_ERROR, retried) and is
stopped; the next run starts a fresh one.

Costs: per run one message, an unshare and a fork in the zygote and one fork in the run (no exec,
no interpreter start), a cgroup join by the run's init and one round trip for the source. The
run's init (C2) is forked into its namespaces and prepared during the slot's previous run, as its
cgroup is made then (bubblewrap.py) and removed after the result; see bench/sandbox/README.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import struct
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from codeeval.sandbox.backends import cgroups
from codeeval.sandbox.backends.base import Bind, SandboxCommand, StreamCollector, finished_result
from codeeval.sandbox.backends.memwatch import Watch
from codeeval.sandbox.model import ProcessResult

PYTHON = "/usr/bin/python3"
#: The zygote's host uid sits this far above its slot uid (between the slots and the judges' uids).
ZYGOTE_UID_OFFSET = 500
#: The zygote's own script inside its sandbox (the trusted support directory is bound there).
SCRIPT = "/harness/py_zygote.py"
#: How long a zygote may take to start (a python3 start on a loaded machine).
START_TIMEOUT_S = 30.0
#: How long the zygote may take to report a run's status once the run was killed.
STATUS_GRACE_S = 5.0
#: The run's pid 1 prints setup failures so (before the candidate's start marker): a SANDBOX_ERROR.
SETUP_ERROR_PREFIX = b"zygote: "
_CREDS = struct.calcsize("3i")
_FD = struct.calcsize("i")


class ZygoteError(Exception):
    """The zygote could not be started or could not start a run."""


@dataclass(frozen=True)
class ZygoteSpec:
    """What a slot's zygote is built from: the sandbox's root (read-only system dirs, symlinks),
    the trusted binds, the environment and the seccomp filter C2 loads."""

    bwrap: str
    ro_dirs: tuple[str, ...]
    symlinks: tuple[tuple[str, str], ...]
    binds: tuple[Bind, ...]
    env: tuple[tuple[str, str], ...]
    seccomp: Path | None


class Zygote:
    """One slot's zygote: ``slot_uid`` is the candidates' host uid (mapped to uid 1 inside)."""

    def __init__(self, slot_uid: int, spec: ZygoteSpec) -> None:
        self.slot_uid = slot_uid
        self.uid = slot_uid + ZYGOTE_UID_OFFSET
        self.spec = spec
        self.proc: subprocess.Popen[bytes] | None = None
        self.sock: socket.socket | None = None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None and self.sock is not None

    def _drop(self) -> list[str]:
        return ["setpriv", f"--reuid={self.uid}", f"--regid={self.uid}", "--clear-groups", "--no-new-privs", "--"]

    async def _user_namespace(self) -> int:
        """A descriptor of a new user namespace owned by the zygote's uid with the two-uid map."""
        own = os.readlink("/proc/self/ns/user")
        holder = subprocess.Popen([*self._drop(), "unshare", "--user", "--", "sleep", "60"],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  close_fds=True)
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while True:
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{holder.pid}/ns/user") != own:
                        break
                if holder.poll() is not None or time.monotonic() > deadline:
                    raise ZygoteError("the user namespace's holder did not start")
                await asyncio.sleep(0.002)
            mapping = f"0 {self.uid} 1\n1 {self.slot_uid} 1\n"
            for name in ("uid_map", "gid_map"):
                fd = os.open(f"/proc/{holder.pid}/{name}", os.O_WRONLY)
                try:
                    os.write(fd, mapping.encode())
                finally:
                    os.close(fd)
            return os.open(f"/proc/{holder.pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            raise ZygoteError(f"could not map the zygote's user namespace: {exc}") from exc
        finally:
            holder.kill()
            holder.wait()

    def argv(self, userns_fd: int, control_fd: int, filter_fd: int) -> list[str]:
        s = self.spec
        argv = [*self._drop(), s.bwrap, "--userns", str(userns_fd), "--unshare-pid", "--unshare-net",
                "--unshare-ipc", "--unshare-uts", "--unshare-cgroup", "--cap-add", "ALL", "--uid", "0", "--gid", "0",
                "--die-with-parent", "--new-session", "--hostname", "sandbox", "--clearenv"]
        for d in s.ro_dirs:
            argv += ["--ro-bind", d, d]
        for link, target in s.symlinks:
            argv += ["--symlink", target, link]
        argv += ["--proc", "/proc", "--dev", "/dev", "--dir", "/dev/shm", "--dir", "/tmp", "--dir", "/code"]
        for b in s.binds:
            argv += ["--ro-bind", str(b.host), b.target]
        argv += ["--remount-ro", "/dev", "--remount-ro", "/", "--chdir", "/"]
        for k, v in s.env:
            argv += ["--setenv", k, v]
        return [*argv, "--", PYTHON, "-I", "-S", "-B", SCRIPT, str(control_fd), str(filter_fd)]

    async def start(self) -> None:
        """Start the zygote and wait for its ``R``. Raises ZygoteError saying why it could not."""
        self.stop()
        userns = await self._user_namespace()
        host, zygote = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        filter_fd = os.open(self.spec.seccomp, os.O_RDONLY) if self.spec.seccomp else -1
        fds = (userns, zygote.fileno(), *((filter_fd,) if filter_fd >= 0 else ()))
        try:
            self.proc = subprocess.Popen(self.argv(userns, zygote.fileno(), filter_fd), stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, pass_fds=fds,
                                         env={"PATH": "/usr/bin:/bin"}, cwd="/")
        except OSError as exc:
            host.close()
            raise ZygoteError(f"could not start the zygote: {exc}") from exc
        finally:
            zygote.close()
            os.close(userns)
            if filter_fd >= 0:
                os.close(filter_fd)
        host.setblocking(False)
        self.sock = host
        try:
            async with asyncio.timeout(START_TIMEOUT_S):
                ready = await asyncio.get_running_loop().sock_recv(host, 1)
        except (OSError, TimeoutError):
            ready = b""
        if ready != b"R":
            why = self._stderr()
            self.stop()
            raise ZygoteError(f"the zygote did not start: {why or 'no answer'}")

    def _stderr(self) -> str:
        if self.proc is None or self.proc.stderr is None:
            return ""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        return self.proc.stderr.read()[-500:].decode(errors="replace").strip()

    def send(self, header: dict[str, object], fds: list[int]) -> None:
        """Hand the zygote one run. Raises OSError when it is gone."""
        if self.sock is None:
            raise OSError("the zygote is not running")
        socket.send_fds(self.sock, [json.dumps(header).encode()], fds)

    def stop(self) -> None:
        """Kill the zygote's sandbox (every run still in it dies with its pid namespace)."""
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            if self.proc.stderr is not None:
                self.proc.stderr.close()
            self.proc = None


def header(cmd: SandboxCommand, cgroup: bool, nproc: int) -> dict[str, object]:
    """The run's limits as the zygote applies them (``nproc`` 0: the pids cgroup bounds processes)."""
    lim = cmd.limits
    cpu_s = max(1, -(-lim.cpu_time_ms // 1000))
    rl = {"RLIMIT_CPU": (cpu_s, cpu_s + 1), "RLIMIT_FSIZE": (lim.max_file_bytes, lim.max_file_bytes),
          "RLIMIT_NOFILE": (256, 256), "RLIMIT_CORE": (0, 0)}
    if cmd.limit_address_space:
        rl["RLIMIT_AS"] = (lim.memory_bytes, lim.memory_bytes)
    if not cgroup:
        rl["RLIMIT_NPROC"] = (nproc, nproc)
    return {"rlimits": rl, "work_dir_bytes": cmd.work_dir_bytes, "shm_bytes": lim.memory_bytes}


async def _recv_hello(sock: socket.socket, timeout: float) -> tuple[bytes, int, int]:
    """One byte, the sender's host pid (0 when it sent none) and the pidfd it sent (-1: none, the
    caller closes it); b'' when the socket ended."""
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(timeout):
        while True:
            try:
                data, anc, _flags, _addr = sock.recvmsg(1, socket.CMSG_SPACE(_CREDS) + socket.CMSG_SPACE(_FD))
            except BlockingIOError:
                ready = loop.create_future()
                loop.add_reader(sock.fileno(), _wake, ready)
                try:
                    await ready
                finally:
                    loop.remove_reader(sock.fileno())
                continue
            pid, fds = 0, []
            for level, kind, d in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid = struct.unpack("3i", d[:_CREDS])[0]
                elif level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds += [x[0] for x in struct.iter_unpack("i", d[:len(d) - len(d) % _FD])]
            for extra in fds[1:]:
                os.close(extra)
            return data, pid, fds[0] if fds else -1


def _wake(ready: asyncio.Future[None]) -> None:
    if not ready.done():
        ready.set_result(None)


async def _recv_exact(sock: socket.socket, n: int, timeout: float) -> bytes:
    loop = asyncio.get_running_loop()
    buf = b""
    async with asyncio.timeout(timeout):
        while len(buf) < n:
            chunk = await loop.sock_recv(sock, n - len(buf))
            if not chunk:
                break
            buf += chunk
    return buf


class _PipeReader:
    """Feeds one pipe's read end into a StreamCollector from the event loop's own readiness callback
    (no transport, protocol or task per stream); ``done`` resolves at end of file. Owns ``fd``."""

    def __init__(self, fd: int, collector: StreamCollector) -> None:
        self.fd, self.collector = fd, collector
        self.loop = asyncio.get_running_loop()
        self.done: asyncio.Future[None] = self.loop.create_future()
        os.set_blocking(fd, False)
        self.loop.add_reader(fd, self._read)

    def _read(self) -> None:
        try:
            chunk = os.read(self.fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if chunk:
            self.collector.feed(chunk)
        else:
            self.close()

    def close(self) -> None:
        """Stop reading and close the fd (idempotent); ``done`` resolves."""
        if self.fd >= 0:
            self.loop.remove_reader(self.fd)
            os.close(self.fd)
            self.fd = -1
        if not self.done.done():
            self.done.set_result(None)


def _write_all(fd: int, data: bytes) -> None:
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    except OSError:
        pass
    finally:
        os.close(fd)


def _send_source(ctl: socket.socket, source: bytes) -> asyncio.Future[None] | None:
    """Send the run's source on its control socket now, as far as the socket's buffer takes it
    (all of a typical program); the rest, if any, from a task (returned; it ends when C2 has read
    it or the socket is gone)."""
    try:
        sent = ctl.send(source) if source else 0
    except BlockingIOError:
        sent = 0
    except OSError:
        return None
    if sent == len(source):
        return None
    return asyncio.ensure_future(_send_rest(ctl, memoryview(source)[sent:]))


async def _send_rest(ctl: socket.socket, rest: memoryview) -> None:
    with contextlib.suppress(OSError):
        await asyncio.get_running_loop().sock_sendall(ctl, rest)


def _failure(detail: str) -> ProcessResult:
    return ProcessResult(exit_code=-1, sandbox_failure=detail)


async def run(zygote: Zygote, cmd: SandboxCommand, cg: cgroups.RunCgroup | None, nproc: int,
              watches: Callable[[int, Callable[[], None]], list[Watch]],
              on_started: Callable[[], None] | None = None) -> ProcessResult:
    """One run of ``cmd.zygote`` in ``zygote`` (started here when it is not running). Never raises
    for what the program does; a zygote that fails is stopped and the run gets ``sandbox_failure``.
    ``watches(pid, kill)`` gives the run's watchdogs once its host pid is known; ``on_started`` is
    called (from the event loop, soon) once the run has its source: work for the service to do
    while the run runs."""
    assert cmd.zygote is not None
    if not zygote.alive():
        try:
            await zygote.start()
        except ZygoteError as exc:
            return _failure(str(exc))
    try:
        joins = cg.open_self_join() if cg is not None else []
    except OSError as exc:
        return _failure(f"could not open the run's cgroups: {exc}")
    try:
        return await _run(zygote, cmd, cg, nproc, joins, watches, on_started)
    finally:
        for fd in joins:
            os.close(fd)


async def _run(zygote: Zygote, cmd: SandboxCommand, cg: cgroups.RunCgroup | None, nproc: int, joins: list[int],
               watches: Callable[[int, Callable[[], None]], list[Watch]],
               on_started: Callable[[], None] | None) -> ProcessResult:
    assert cmd.zygote is not None
    pipes = [os.pipe() for _ in range(3)]
    stdin_w, out_r, err_r = pipes[0][1], pipes[1][0], pipes[2][0]
    ctl, ctl_run = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    ctl.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    ctl.setblocking(False)
    source = cmd.zygote.source.encode()
    try:
        zygote.send(header(cmd, cg is not None, nproc),
                    [pipes[0][0], pipes[1][1], pipes[2][1], cmd.zygote.channel, ctl_run.fileno()])
        # C2's first read, sent now (8 bytes: an empty socket's buffer takes them): it joins the
        # cgroups itself and reads the source without waiting for the service
        ctl.sendmsg([struct.pack("<Q", len(source))], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack(
            f"{len(joins)}i", *joins))] if joins else [])
    except OSError as exc:
        zygote.stop()
        for fd in (stdin_w, out_r, err_r):
            os.close(fd)
        ctl.close()
        return _failure(f"the zygote did not take the run: {exc}")
    finally:
        for fd in (pipes[0][0], pipes[1][1], pipes[2][1]):
            os.close(fd)
        ctl_run.close()
    try:
        return await _supervise(zygote, cmd, cg, watches, ctl, source, stdin_w, out_r, err_r, on_started)
    finally:
        ctl.close()


async def _supervise(zygote: Zygote, cmd: SandboxCommand, cg: cgroups.RunCgroup | None,
                     watches: Callable[[int, Callable[[], None]], list[Watch]], ctl: socket.socket, source: bytes,
                     stdin_w: int, out_r: int, err_r: int, on_started: Callable[[], None] | None) -> ProcessResult:
    lim = cmd.limits
    start = time.monotonic()
    out = StreamCollector(lim.output_bytes, cmd.output_hard_bytes, None)
    err = StreamCollector(lim.output_bytes, cmd.output_hard_bytes, None)
    pipes = [_PipeReader(out_r, out), _PipeReader(err_r, err)]
    readers = [p.done for p in pipes]
    pidfd = -1
    writer: asyncio.Future[None] | None = None
    sender = _send_source(ctl, source)
    try:
        try:
            first, pid, pidfd = await _recv_hello(ctl, lim.wall_time_ms / 1000)
        except (OSError, TimeoutError) as exc:
            zygote.stop()
            return _failure(f"the zygote did not start the run: {exc or 'no answer in time'}")
        if first != b"P" or pid <= 0 or pidfd < 0:
            if await _status(ctl, first) is None:
                zygote.stop()
                return _failure("the zygote ended before the run started")
            await _drain(readers)
            return _failure("the run could not be set up: " + bytes(err.head[:300]).decode(errors="replace"))

        def kill() -> None:
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            if cg is not None:
                cg.kill_all()

        out.on_exceed = err.on_exceed = kill
        if cmd.stdin:  # a thread: a candidate that never reads must not block the loop
            writer = asyncio.ensure_future(asyncio.to_thread(_write_all, stdin_w, cmd.stdin))
        else:
            os.close(stdin_w)
            writer = asyncio.get_running_loop().create_future()
            writer.set_result(None)
        if on_started is not None:
            asyncio.get_running_loop().call_soon(on_started)
        run_watches = watches(pid, kill)
        watchers = [asyncio.create_task(w.run()) for w in run_watches]
        timed_out = False
        status: int | None = None
        try:
            status = await _status(ctl, None, lim.wall_time_ms / 1000)
        except TimeoutError:
            timed_out = True
            kill()
        finally:
            wall_ms = int((time.monotonic() - start) * 1000)
            for watcher in watchers:
                watcher.cancel()
        if timed_out:
            with contextlib.suppress(TimeoutError):
                status = await _status(ctl, None, STATUS_GRACE_S)
        if cg is not None:
            cg.kill_all()
        for w in run_watches:
            w.finish()
        await _drain([*readers, writer])
        if status is None:
            zygote.stop()
            return _failure("the zygote ended without the run's status")
        code = os.waitstatus_to_exitcode(status)  # C2's: the worker's code, or 128 + its signal
        sig = -code if code < 0 else (code - 128 if 128 < code < 193 else 0)
        stats = cg.stats() if cg is not None else cgroups.RunStats()
        result = finished_result(code, sig, out, err, timed_out=timed_out, stats=stats, wall_ms=wall_ms,
                                 cpu_limit_ms=lim.cpu_time_ms)
        for w in run_watches:
            w.annotate(result)
        if code == 1 and err.head.startswith(SETUP_ERROR_PREFIX):
            result.sandbox_failure = "the zygote could not set up the run: " + bytes(err.head[:200]).decode(
                errors="replace")
        return result
    except asyncio.CancelledError:
        if pidfd >= 0:
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        if cg is not None:
            cg.kill_all()
        raise
    finally:
        if sender is not None:
            sender.cancel()
        if writer is None:
            os.close(stdin_w)
        if pidfd >= 0:
            os.close(pidfd)
        for reader in pipes:
            reader.close()


async def _status(ctl: socket.socket, first: bytes | None, timeout: float = STATUS_GRACE_S) -> int | None:
    """The zygote's report: the wait status of the run's pid 1, or None when the socket ended without one.
    ``first``: the report's first byte when already read. Raises TimeoutError."""
    head = first if first is not None else await _recv_exact(ctl, 1, timeout)
    if head != b"S":
        return None
    body = await _recv_exact(ctl, 4, timeout)
    return struct.unpack("<i", body)[0] if len(body) == 4 else None


async def _drain(tasks: Sequence[asyncio.Future[None]]) -> None:
    _, pending = await asyncio.wait(tasks, timeout=2)
    for task in pending:
        task.cancel()
