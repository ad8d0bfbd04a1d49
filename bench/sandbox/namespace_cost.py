"""What fresh namespaces cost per run and how they scale, without the sandbox: a stdlib-only
``python3`` (root) forks a child per iteration that unshares the given namespaces and forks one
process into them (pid 1 of a new pid namespace), ``--workers`` such loops at a time. Printed per
set: iterations/s at each worker count, their ratio to no namespaces in the same run, and the CPU
per iteration (the children's user + system time).

usage: python3 bench/sandbox/namespace_cost.py [--iterations 300] [--workers 1,2] [--rounds 3]

It shows what a zygote run pays the kernel for its namespaces, and whether they change how runs
scale from 1 to 2 workers (bench/sandbox/README.md, "fifth pass").
"""

from __future__ import annotations

import argparse
import ctypes
import os
import statistics
import sys
import time

NEWNS, NEWUTS, NEWIPC, NEWPID, NEWNET = 0x20000, 0x04000000, 0x08000000, 0x20000000, 0x40000000
SETS = {"none": 0, "mnt": NEWNS, "pid": NEWPID, "net": NEWNET, "ipc": NEWIPC, "uts": NEWUTS,
        "all but net": NEWNS | NEWPID | NEWIPC | NEWUTS,
        "all five (a run's)": NEWNS | NEWPID | NEWNET | NEWIPC | NEWUTS}
libc = ctypes.CDLL(None, use_errno=True)


def _iteration(flags: int) -> None:
    """In a fresh child: unshare ``flags``, fork one process into them, reap it."""
    pid = os.fork()
    if pid == 0:
        if flags and libc.unshare(flags) != 0:
            os._exit(2)
        inner = os.fork()
        if inner == 0:
            os._exit(0)
        os._exit(0 if os.waitpid(inner, 0)[1] == 0 else 3)
    if os.waitpid(pid, 0)[1] != 0:
        raise OSError(f"unshare({flags:#x}) failed (root needed)")


def measure(flags: int, workers: int, iterations: int) -> tuple[float, float]:
    """Iterations/s and CPU-ms per iteration of ``workers`` loops sharing ``iterations``."""
    before = os.times()
    start = time.perf_counter()
    loops = []
    for w in range(workers):
        pid = os.fork()
        if pid == 0:
            try:
                for _ in range(iterations // workers + (w < iterations % workers)):
                    _iteration(flags)
            except OSError:
                os._exit(1)
            os._exit(0)
        loops.append(pid)
    failed = [p for p in loops if os.waitpid(p, 0)[1] != 0]
    wall = time.perf_counter() - start
    if failed:
        sys.exit(f"unshare({flags:#x}) failed: run as root")
    after = os.times()
    cpu = (after.children_user + after.children_system) - (before.children_user + before.children_system)
    return iterations / wall, 1000 * cpu / iterations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--rounds", type=int, default=3, help="rounds over every set, interleaved; medians printed")
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, load {os.getloadavg()[0]:.2f}, "
          f"{args.iterations} iterations per cell, median of {args.rounds} interleaved rounds")
    got: dict[tuple[str, int], list[tuple[float, float]]] = {}
    for _ in range(args.rounds):
        for name, flags in SETS.items():
            for w in counts:
                got.setdefault((name, w), []).append(measure(flags, w, args.iterations))
    med = {k: (statistics.median(r for r, _ in v), statistics.median(c for _, c in v)) for k, v in got.items()}
    for name in SETS:
        cells = [f"w{w} {med[name, w][0]:6.1f}/s ({med[name, w][0] / med['none', w][0]:.2f}x of none) "
                 f"{med[name, w][1]:.2f} CPU-ms" for w in counts]
        scale = (f"  w{counts[-1]}/w{counts[0]} {med[name, counts[-1]][0] / med[name, counts[0]][0]:.2f}x"
                 if len(counts) > 1 else "")
        print(f"  {name:20s} " + "  ".join(cells) + scale)


if __name__ == "__main__":
    main()
