"""A service that is its container's pid 1 becomes a minimal init first (what tini does).

In an image whose entry point is ``codeeval serve NAME`` (compose and Kubernetes alike) the service is
pid 1, and every process orphaned inside the container is reparented to it. The sandbox orphans one
per run: bubblewrap's monitor exits before its pid-namespace init has finished, and that init is
reparented. Python reaps only the children it started, so without an init those zombies pile up until
the pod's pid limit refuses new runs. :func:`become_init_if_pid_1` forks: the child returns and runs
the service; the parent stays pid 1, forwards the signals a container runtime sends to the child, reaps
every process reparented to it, and exits with the child's status. Anywhere else (a host, a test, a pod
with ``shareProcessNamespace``) it returns at once. Cost: one fork at start; nothing per run.
"""

from __future__ import annotations

import contextlib
import os
import signal

#: What a container runtime or an operator sends to pid 1 and the service must see.
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)
#: Set to "0" to run the service itself as pid 1 (no reaping).
ENV = "CODEEVAL_INIT"


def become_init_if_pid_1() -> None:
    """Call before any thread starts (it forks). Returns in the process that runs the service; as pid 1 the
    calling process never returns: it reaps until the service ends, then exits with its status."""
    if os.getpid() != 1 or os.environ.get(ENV, "1") == "0":
        return
    child = os.fork()
    if child == 0:
        return
    for sig in FORWARDED:
        signal.signal(sig, lambda signum, _frame: _forward(child, signum))
    os._exit(reap_until(child))


def _forward(child: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(child, signum)


def reap_until(child: int) -> int:
    """Reap every child (own and adopted) until ``child`` ends; its exit code (128 + N for signal N)."""
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return 0
        if pid == child:
            code = os.waitstatus_to_exitcode(status)
            return code if code >= 0 else 128 - code
