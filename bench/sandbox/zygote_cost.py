"""What a warm zygote per slot would save (bench/sandbox/README.md, the zygote design): CPU and wall
per program of a prototype zygote that forks each of the 164 HumanEval canonical programs into
fresh namespaces, against one bubblewrap sandbox and one ``python3 -I -S`` start per program, in
the same run. Prints both and their ratio; asserts nothing.

The prototype zygote is ``python3 -I -S`` (the common standard library imported once) in a user
namespace where it is uid 0 (as an unprivileged uid: 65534 when this script runs as root). Per
program it forks a child that unshares the mount, uts, ipc, pid, net and cgroup namespaces and
forks pid 1 of the new pid namespace, which makes ``/`` private, mounts fresh tmpfs on ``/tmp`` and
``/dev/shm`` and a new ``/proc``, sets rlimits, drops every capability (bounding set too), sets
no_new_privs and ``exec``s the program text: no exec of a binary, no interpreter start.

It is a cost model, not a sandbox: it has no seccomp filter, no cgroup, no read-only root, no
second uid and no judge, and it only ever runs the trusted canonical solutions. What a product
zygote needs beyond it is in the README.

usage: zygote_cost.py [--data HumanEval.jsonl.gz]
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import sys
import time

NEWNS, NEWUTS, NEWIPC, NEWPID, NEWNET, NEWCGROUP = 0x20000, 0x04000000, 0x08000000, 0x20000000, 0x40000000, 0x02000000
MS_NOSUID, MS_NODEV, MS_REC, MS_PRIVATE = 2, 4, 1 << 14, 1 << 18
PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, CAP_LAST = 24, 38, 40
BWRAP = ["bwrap", "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session",
         "--cap-drop", "ALL", "--hostname", "sandbox", "--clearenv", "--ro-bind", "/usr", "/usr",
         "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
         "--proc", "/proc", "--dev", "/dev", "--size", str(512 << 20), "--tmpfs", "/dev/shm",
         "--size", str(64 << 20), "--tmpfs", "/tmp", "--remount-ro", "/dev", "--remount-ro", "/", "--chdir", "/tmp"]


# -- the prototype zygote (runs in its own user namespace, standard library only) ---------------------

def _fresh_child(libc: ctypes.CDLL, text: str) -> None:
    """pid 1 of the run's pid namespace: fresh mounts, limits, no capabilities, then the program."""
    for source, target, kind, data in ((b"tmpfs", b"/tmp", b"tmpfs", b"size=64m"),
                                       (b"tmpfs", b"/dev/shm", b"tmpfs", b"size=512m"),
                                       (b"proc", b"/proc", b"proc", None)):
        if libc.mount(source, target, kind, MS_NOSUID | MS_NODEV, data):
            os._exit(92)
    for limit, value in ((resource.RLIMIT_CPU, 10), (resource.RLIMIT_FSIZE, 16 << 20),
                         (resource.RLIMIT_NOFILE, 256), (resource.RLIMIT_CORE, 0)):
        resource.setrlimit(limit, (value, value))
    for cap in range(CAP_LAST + 1):
        libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    header, caps = (ctypes.c_uint32 * 2)(0x20080522, 0), (ctypes.c_uint32 * 6)()
    if libc.capset(header, caps) or libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0):
        os._exit(93)
    os.chdir("/tmp")
    try:
        exec(compile(text, "/tmp/main.py", "exec"), {"__name__": "__main__"})  # noqa: S102 - trusted canonical code
    except BaseException:  # noqa: BLE001
        os._exit(1)
    os._exit(0)


def _fork_run(libc: ctypes.CDLL, text: str) -> int:
    pid = os.fork()
    if pid == 0:
        if libc.unshare(NEWNS | NEWUTS | NEWIPC | NEWPID | NEWNET | NEWCGROUP):
            os._exit(90)
        if libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None):
            os._exit(91)
        init = os.fork()
        if init == 0:
            _fresh_child(libc, text)
        os._exit(os.waitstatus_to_exitcode(os.waitpid(init, 0)[1]) & 0xFF)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def zygote_main(path: str) -> None:
    for name in ("re", "math", "collections", "itertools", "functools", "heapq", "string", "hashlib"):
        __import__(name)
    libc = ctypes.CDLL(None, use_errno=True)
    with open(path, encoding="utf-8") as fh:
        programs = json.load(fh)
    print(json.dumps({"passed": sum(_fork_run(libc, text) == 0 for text in programs)}))


# -- the bench ------------------------------------------------------------------------------------------

def main() -> None:
    import argparse
    import subprocess
    import tempfile
    from pathlib import Path

    from humaneval_throughput import CpuMeter, program

    from codeeval.data import read_records
    from codeeval.kit.paths import datasets_dir

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=datasets_dir() / "humaneval/HumanEval.jsonl.gz")
    args = parser.parse_args()
    if not args.data.exists():
        sys.exit(f"{args.data} not found: pass --data or set CODEEVAL_DATASETS_DIR")
    programs = [program(p) for p in read_records(args.data)]
    n = len(programs)
    drop = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"] if os.geteuid() == 0 else []
    meter = CpuMeter()
    try:
        with tempfile.TemporaryDirectory(prefix="codeeval-zygote-") as tmp:
            data = Path(tmp) / "programs.json"
            data.write_text(json.dumps(programs), encoding="utf-8")
            os.chmod(tmp, 0o755)
            os.chmod(data, 0o644)
            cpu, start = meter.seconds(), time.perf_counter()
            out = subprocess.run([*drop, "unshare", "--user", "--map-root-user", "--", "/usr/bin/python3", "-I",
                                  "-S", str(Path(__file__).resolve()), "--zygote", str(data)],
                                 capture_output=True, text=True, check=True)
            zygote = (time.perf_counter() - start, meter.seconds() - cpu, json.loads(out.stdout)["passed"])
        cpu, start = meter.seconds(), time.perf_counter()
        passed = sum(subprocess.run([*drop, *BWRAP, "--", "/usr/bin/python3", "-I", "-S", "-c", text],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
                     for text in programs)
        bwrap = (time.perf_counter() - start, meter.seconds() - cpu, passed)
    finally:
        meter.close()
    print(json.dumps({"programs": n, "cpus": os.cpu_count(), "load_avg_1min": os.getloadavg()[0],
                      "cpu_measured_by": meter.method}))
    for name, (wall, cpu_s, ok) in (("zygote fork + fresh namespaces", zygote), ("bwrap + python3 -I -S", bwrap)):
        print(f"  {name:<32} {1000 * cpu_s / n:6.2f} CPU-ms/program  {1000 * wall / n:6.1f} ms wall/program  "
              f"{ok}/{n} passed")
    print(f"  CPU per program bwrap / zygote: {bwrap[1] / zygote[1]:.2f}x")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--zygote":
        zygote_main(sys.argv[2])
    else:
        main()
