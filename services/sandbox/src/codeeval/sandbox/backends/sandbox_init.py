"""pid 1 of a run's pid namespace (unshare backend): ``python3 -I -S sandbox_init.py [FILTER] -- ARGV...``.

Standard library only: it runs under the jail's own ``/usr/bin/python3`` after the namespaces and
the chroot are set up. It forks; the child sets no_new_privs, loads the seccomp BPF program in FILTER
(util-linux has no seccomp option before 2.40) and execs ARGV, so the filter binds the candidate and
everything it starts. The parent stays pid 1: the candidate is never the namespace's init (whose
signals the kernel would drop, so ``kill -9 -1`` or killing itself would not end it), every orphan is
reaped, and when the candidate exits this process exits the same way (128 + signal when killed),
which ends every process left in the namespace.

Exits 1 with a message starting ``sandbox_init:`` when the run cannot be set up (a sandbox failure,
never a verdict).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
EXIT_SETUP = 1


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]


def fail(message: str) -> None:
    os.write(2, f"sandbox_init: {message}\n".encode())
    os._exit(EXIT_SETUP)


def load_filter(path: str) -> None:
    try:
        with open(path, "rb") as fh:
            program = fh.read()
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}")
    if not program or len(program) % 8:
        fail(f"{path} is not a BPF program ({len(program)} bytes)")
    libc = ctypes.CDLL(None, use_errno=True)
    prog = SockFprog(len(program) // 8, program)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        fail(f"PR_SET_NO_NEW_PRIVS: {os.strerror(ctypes.get_errno())}")
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        fail(f"PR_SET_SECCOMP: {os.strerror(ctypes.get_errno())}")


def run_child(filter_path: str | None, command: list[str]) -> None:
    if filter_path:
        load_filter(filter_path)
    try:
        os.execvp(command[0], command)
    except OSError as exc:
        os.write(2, f"{command[0]}: {exc.strerror}\n".encode())
        os._exit(127)


def reap(child: int) -> int:
    """Wait for every process until ``child`` ends; its exit status as a shell reports it."""
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return 1
        except InterruptedError:
            continue
        if pid == child:
            return os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


def main(argv: list[str]) -> None:
    if "--" not in argv or argv.index("--") > 1 or argv.index("--") == len(argv) - 1:
        fail("usage: sandbox_init.py [FILTER] -- ARGV...")
    split = argv.index("--")
    filter_path, command = (argv[0] if split == 1 else None), argv[split + 1:]
    child = os.fork()
    if child == 0:
        run_child(filter_path, command)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2,
                signal.SIGPIPE, signal.SIGTTIN, signal.SIGTTOU, signal.SIGTSTP):
        signal.signal(sig, signal.SIG_IGN)
    os._exit(reap(child))


if __name__ == "__main__":
    main(sys.argv[1:])
