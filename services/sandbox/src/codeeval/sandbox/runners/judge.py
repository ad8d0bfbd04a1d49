"""Host side of the Python judge: a pool of warm judge servers (support/py_judge.py), one per slot.

Each server runs outside every candidate's namespaces: ``unshare`` gives it its own pid, network
(no interface), ipc and uts namespaces; when the service is root it then drops to its own uid
(``uid_base + JUDGE_UID_OFFSET + slot``, never a candidate's) with ``setpriv --no-new-privs``,
otherwise it runs as uid 65534 of its own user namespace (a pod's single uid, but a namespace no
candidate can enter), also with no_new_privs. It is not dumpable (no /proc/PID/mem, no ptrace
from the same uid) and each run's child has the run's memory, CPU, file-size and wall limits as
rlimits and a timer.

Per run (``JudgeServer.open``): two socketpairs, the candidate channel and a private control
socket; the judge's ends go to the server with SCM_RIGHTS (it forks a child per run), the
request goes on the control socket, the candidate's end is handed to the sandbox as an extra fd.
Costs: a server start is one python3 (~50 ms, once per slot); a run adds one fork in the judge
and one round trip over a Unix socket per call of the candidate.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import os
import socket
import subprocess
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

PYTHON = "/usr/bin/python3"
#: Judge uids (root only) sit this far above the sandbox's per-slot uid base.
JUDGE_UID_OFFSET = 1000
#: RLIMIT_AS head-room of the judge over the run's memory limit (the judge's own interpreter).
JUDGE_MEMORY_EXTRA = 64 << 20
ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0", "HOME": "/nonexistent"}


@dataclass
class JudgeRun:
    """One run's host ends: ``candidate_fd`` (passed to the sandbox as an extra fd) and the
    control socket the verdict comes back on."""

    candidate_fd: int
    control: socket.socket

    def release_candidate(self) -> None:
        """Close the host's copy of the candidate's end (after the sandbox ended), so the judge sees
        the end of the channel once no sandboxed process holds it. Idempotent."""
        if self.candidate_fd >= 0:
            os.close(self.candidate_fd)
            self.candidate_fd = -1

    async def verdict(self, timeout: float) -> dict[str, object] | None:
        """The judge's verdict frame, or None when the judge ended (or took longer than
        ``timeout`` seconds) without one."""
        from codeeval.sandbox.runners.support import py_codec

        loop = asyncio.get_running_loop()

        async def exact(n: int) -> bytes:
            buf = bytearray()
            while len(buf) < n:
                chunk = await loop.sock_recv(self.control, n - len(buf))
                if not chunk:
                    raise EOFError
                buf += chunk
            return bytes(buf)

        try:
            async with asyncio.timeout(timeout):
                return py_codec.loads(await exact(py_codec.body_size(await exact(4))))
        except (EOFError, OSError, TimeoutError, py_codec.CodecError):
            return None

    def close(self) -> None:
        self.control.close()


class JudgeServer:
    """One warm py_judge.py process."""

    def __init__(self, uid: int | None, support: Callable[[], Path]) -> None:
        self.uid = uid
        self.support = support
        self.proc: subprocess.Popen[bytes] | None = None
        self.sock: socket.socket | None = None

    def argv(self) -> list[str]:
        judge = str(self.support() / "py_judge.py")
        spaces = ["--pid", "--fork", "--kill-child", "--net", "--ipc", "--uts"]
        if self.uid is not None:
            drop = ["setpriv", f"--reuid={self.uid}", f"--regid={self.uid}", "--clear-groups", "--no-new-privs", "--"]
            return ["unshare", *spaces, "--", *drop, PYTHON, "-I", "-B", judge]
        return ["unshare", "--user", "--map-user=65534", "--map-group=65534", *spaces, "--",
                "setpriv", "--no-new-privs", "--", PYTHON, "-I", "-B", judge]

    def start(self) -> None:
        """Start the server process. Raises OSError if it cannot be started."""
        host, judge = socket.socketpair()
        try:
            self.proc = subprocess.Popen(self.argv(), stdin=judge.fileno(), stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL, env=ENV, cwd="/", close_fds=True)
        finally:
            judge.close()
        self.sock = host

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def open(self, listener: socket.socket | None = None) -> JudgeRun:
        """Hand the server one run (a 1-byte message with two fds: never blocks in practice): the
        judge's end of a new socketpair, or ``listener`` (a listening Unix socket the candidate
        connects to, for backends that cannot pass an fd; the caller keeps and closes its copy).
        Raises OSError when the server is gone."""
        if not self.alive():
            self.stop()
            self.start()
        assert self.sock is not None
        cand_host: socket.socket | None = None
        if listener is None:
            cand_host, cand_judge = socket.socketpair()
        else:
            cand_judge = listener.dup()
        ctl_host, ctl_judge = socket.socketpair()
        try:
            fds = array.array("i", [cand_judge.fileno(), ctl_judge.fileno()])
            self.sock.sendmsg([b"R"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)])
        except OSError:
            ctl_host.close()
            if cand_host is not None:
                cand_host.close()
            raise
        finally:
            cand_judge.close()
            ctl_judge.close()
        ctl_host.setblocking(False)
        return JudgeRun(cand_host.detach() if cand_host is not None else -1, ctl_host)

    def stop(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if self.proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=2)
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.proc = None


class JudgePool:
    """``size`` judge servers, started on first use. ``uid_base`` is the sandbox's slot uid base
    (used only when the service runs as root); ``support()`` is the directory holding py_judge.py
    (readable by the judge uids)."""

    def __init__(self, size: int, uid_base: int, support: Callable[[], Path]) -> None:
        root = os.geteuid() == 0
        self._free: asyncio.Queue[JudgeServer] | None = None
        self._servers = [JudgeServer(uid_base + JUDGE_UID_OFFSET + i if root else None, support) for i in range(size)]

    @contextlib.asynccontextmanager
    async def run(self, request: dict[str, object], listener: socket.socket | None = None
                  ) -> AsyncIterator[JudgeRun]:
        """A judge for one run, holding ``request`` (``listener``: see ``JudgeServer.open``); the
        server is free again when the block ends."""
        if self._free is None:
            self._free = asyncio.Queue()
            for s in self._servers:
                self._free.put_nowait(s)
        from codeeval.sandbox.runners.support import py_codec

        server = await self._free.get()
        run: JudgeRun | None = None
        try:
            try:
                run = server.open(listener)
            except OSError:  # the server died since its last run: one fresh start
                await asyncio.to_thread(server.stop)
                run = server.open(listener)
            # read by the judge's child as soon as it starts
            await asyncio.get_running_loop().sock_sendall(run.control, py_codec.dumps(request))
            yield run
        finally:
            if run is not None:
                run.release_candidate()
                run.close()
            self._free.put_nowait(server)

    def close(self) -> None:
        for s in self._servers:
            s.stop()
