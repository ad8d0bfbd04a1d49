"""Build the sandbox's seccomp filter (BPF) with Debian's python3-seccomp.

libseccomp's Python binding is importable only from Debian's ``/usr/bin/python3``, so this file is
also a script: ``/usr/bin/python3 seccomp_filter.py OUT`` writes the filter to OUT. The filter
allows everything except syscalls a test program never needs and that widen the attack surface:
namespaces and mounts, tracing other processes, kernel keyrings, BPF, perf, module loading,
userfaultfd, io_uring, clock and host settings, memory outside every address space
(``memfd_create``, SysV ``shmget``/``msgget``: where no cgroup bounds a run, its watchdog could not
see it), ``pidfd_getfd``, and ``clone`` with any new-namespace flag (a nested user namespace would
give back the capabilities a chroot jail relies on; ``clone3``, whose flags a filter cannot read,
fails with ENOSYS so libc falls back to ``clone``). Denied calls fail with EPERM (not a kill), so a
program that probes them sees an ordinary error. Socket families are denied too, except local, IP
and netlink ones (the network namespace holds only its own loopback).
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path

SYSTEM_PYTHON = "/usr/bin/python3"

DENIED = [
    "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "ptrace", "process_vm_readv",
    "process_vm_writev", "kcmp", "keyctl", "add_key", "request_key", "bpf", "perf_event_open",
    "userfaultfd", "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
    "reboot", "swapon", "swapoff", "acct", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
    "sethostname", "setdomainname", "io_uring_setup", "io_uring_enter", "io_uring_register",
    "open_by_handle_at", "name_to_handle_at", "fanotify_init", "lookup_dcookie", "quotactl",
    "syslog", "vhangup", "iopl", "ioperm", "fsopen", "fsmount", "fsconfig", "move_mount", "open_tree",
    "mount_setattr",
    # memory no process maps and a pod's watchdog cannot see (no cgroups there): memfds written and
    # never mapped, SysV segments detached, SysV message queues; and another process's fds
    "memfd_create", "shmget", "msgget", "pidfd_getfd",
]
#: Address families a test program may open: local, IPv4/IPv6 (only the sandbox's own loopback exists),
#: netlink (interface listing). Everything else (packet, alg, vsock, bluetooth, ...) is denied.
ALLOWED_FAMILIES = {1, 2, 10, 16}
#: CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET.
CLONE_NEW_FLAGS = [0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000]
MAX_FAMILY = 64


def build(out: Path) -> None:
    """Write the BPF program to ``out`` (runs inside Debian's python3)."""
    import errno

    import seccomp  # type: ignore[import-not-found]

    f = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    for name in DENIED:
        try:
            f.add_rule(seccomp.ERRNO(errno.EPERM), name)
        except (RuntimeError, ValueError):  # unknown on this architecture/libseccomp
            continue
    for flag in CLONE_NEW_FLAGS:
        f.add_rule(seccomp.ERRNO(errno.EPERM), "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    with contextlib.suppress(RuntimeError, ValueError):
        f.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    for family in range(MAX_FAMILY):
        if family not in ALLOWED_FAMILIES:
            f.add_rule(seccomp.ERRNO(errno.EAFNOSUPPORT), "socket", seccomp.Arg(0, seccomp.EQ, family))
    with open(out, "wb") as fh:
        f.export_bpf(fh)


def compile_filter(out: Path, python: str = SYSTEM_PYTHON) -> Path:
    """Build the filter by running this file under ``python``; raises RuntimeError saying why not."""
    proc = subprocess.run([python, __file__, str(out)], capture_output=True, text=True, timeout=30)
    if proc.returncode != 0 or not out.exists() or out.stat().st_size == 0:
        raise RuntimeError(f"seccomp filter build failed: {proc.stderr.strip()[-300:]}")
    return out


if __name__ == "__main__":
    build(Path(sys.argv[1]))
