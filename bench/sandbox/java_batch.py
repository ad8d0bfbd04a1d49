"""Java: per-candidate cost of batch mode (one javac for all candidates, then one JVM each) vs one
javac + one java per candidate, both in the same sandbox, in the same run. Prints the ratio.

Candidates are the HumanEval-X-shaped tasks of tests/sandbox/fixtures (reference solutions),
repeated to ``--candidates``, each made distinct by a comment (the executor runs identical programs
of a batch once; that is not what is measured here, and it is also switched off).

What is measured: wall time per candidate at ``--workers`` concurrent runs (the inverse of the
throughput; the sandboxed processes are not children this process can account CPU to). The two sides
alternate in ``--rounds`` rounds (single first in even rounds, batch first in odd ones), each round on
new distinct candidates, so a noisy moment lands on both sides; the figure is the median over rounds
of each side's cost and their ratio, with every round's load average and the machine's busy cores
(from /proc/stat, everyone's processes) printed beside it. Per round the batch side runs all
``--candidates`` (its compile share depends on the batch size), the single side ``--single`` of them
(its cost per candidate does not), and a compile-only batch of the same candidates gives the compile
share of the batch's cost.

``--flags`` also measures, outside the sandbox (the JVM alone, on this host), the judge's JVM start
with each start-up flag changed one at a time (median CPU and wall time of ``--repeat`` runs,
interleaved in a shuffled order), and the compile step: javac once per candidate, one javac for the
batch, and a warm compiler (javax.tools in one long-lived JVM) per candidate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from humaneval_throughput import CpuMeter  # this directory's (run as a script)

from codeeval.sandbox.executor import Executor
from codeeval.sandbox.model import Language, Limits, Mode, Outcome, RunRequest, RunResult
from codeeval.sandbox.runners import java, java_image, java_source
from codeeval.sandbox.settings import SandboxSettings

TASKS = Path(__file__).resolve().parents[2] / "tests/sandbox/fixtures/humaneval_x_java.jsonl"
CONCAT = {"task_id": "concat", "prompt": "class Solution {\n", "canonical_solution":
          "    public String greet(String n) { return \"hi \" + n + \" (\" + n.length() + \")\"; }\n}\n",
          "test": "public class Main {\n    public static void main(String[] args) {\n"
                  "        if (!new Solution().greet(\"ab\").equals(\"hi ab (2)\")) { throw new AssertionError(); }\n"
                  "    }\n}\n"}
WARM_JAVAC = """
import javax.tools.*;
import java.io.File;
import java.util.*;

public class WarmJavac {
    public static void main(String[] args) throws Exception {
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        StandardJavaFileManager files = javac.getStandardFileManager(null, null, null);  // shared: its caches stay warm
        List<Long> nanos = new ArrayList<>();
        for (int i = 1; i < args.length; i++) {
            String[] unit = args[i].split(",");
            new File(unit[0]).mkdirs();
            List<String> opts = List.of("-proc:none", "-nowarn", "-XDstringConcat=inline", "--limit-modules", "java.se",
                "-cp", args[0], "-d", unit[0]);
            long t0 = System.nanoTime();
            boolean ok = javac.getTask(null, files, null, opts, null,
                files.getJavaFileObjects(Arrays.copyOfRange(unit, 1, unit.length))).call();
            nanos.add(System.nanoTime() - t0);
            if (!ok) throw new IllegalStateException("javac failed: " + args[i]);
        }
        StringBuilder out = new StringBuilder();
        for (long n : nanos) out.append(n / 1000).append(' ');
        System.out.println(out.toString().trim());
    }
}
"""


def tasks() -> list[dict[str, str]]:
    return [json.loads(line) for line in TASKS.read_text().splitlines() if line.strip()]


def candidates(n: int, tag: str = "") -> list[RunRequest]:
    """``n`` distinct candidates (the reference solutions with a comment naming ``tag`` and their index)."""
    all_tasks = tasks()
    picked = [all_tasks[i % len(all_tasks)] for i in range(n)]
    return [RunRequest(Language.JAVA, t["prompt"] + t["canonical_solution"] + f"\n// candidate {tag} {i}\n",
                       t["test"], limits=Limits(wall_time_ms=60_000), id=f"{t['task_id']}#{tag}{i}")
            for i, t in enumerate(picked)]


def _timed(argv: list[str], stdin: bytes = b"") -> tuple[float, float, subprocess.CompletedProcess[bytes]]:
    """(wall ms, CPU ms of the process and its children, result)."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(argv, input=stdin, capture_output=True, timeout=300)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall * 1000, (r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime) * 1000, out


def _write_unit(root: Path, i: int, task: dict[str, str], runner: java.JavaRunner) -> list[Path]:
    units = java_source.rewrite(task["prompt"] + task["canonical_solution"], task["test"], f"c{i}", f"t{i}",
                                runner.index)
    files = [root / f"c{i}" / units.candidate_file, root / f"t{i}" / "Main.java"]
    for f, text in zip(files, (units.candidate, units.test), strict=True):
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)
    return files


def _javac(out: Path, files: list[Path], *extra: str) -> list[str]:
    return ["javac", "-J-XX:+UseSerialGC", "-J-XX:TieredStopAtLevel=1", "--limit-modules", "java.se", "-proc:none",
            "-nowarn", *extra, "-cp", java.JUNIT_JAR, "-d", str(out), *map(str, files)]


def measure_flags(runner: java.JavaRunner, repeat: int, batch: int) -> None:
    """The judge's JVM start, one flag changed at a time; then the compile step (see the docstring)."""
    launcher = runner.launcher_dir
    image_java = str(launcher / "jre" / "bin" / "java")
    with tempfile.TemporaryDirectory(prefix="java-flags-") as tmp_name:
        tmp = Path(tmp_name)
        src = tmp / "src"
        files = _write_unit(src, 0, CONCAT, runner)
        for name, extra in (("inline", [java.INLINE_CONCAT]), ("indy", [])):
            subprocess.run(_javac(tmp / name, files, *extra), check=True, capture_output=True, timeout=300)
        trusted = f"{launcher}/judge.jar:{launcher}/junit:{java.JUNIT_DIR}"
        mem = java.memory_flags(512 << 20)  # the default limit

        def judge(flags: list[str], classes: str = "inline", jvm: str = image_java,
                  main: list[str] | None = None, memory: list[str] = mem) -> list[str]:
            return [jvm, *flags, *memory, "-cp", f"{tmp / classes}:{launcher}/junit:{java.JUNIT_JAR}",
                    *(main or runner.judge_main()), "t0.Main", trusted, "c0.Solution,t0.Main"]

        base = java.JVM_FLAGS
        gc = list(java_image.GC_FLAGS)

        def without(*prefixes: str) -> list[str]:
            return [f for f in base if not f.startswith(prefixes)]

        serial = [*(f for f in base if f not in gc), "-XX:+UseSerialGC"]
        module_path = ["-m", java.JUDGE_MAIN]
        on_module_path = ["--add-modules", "java.se", "--module-path", f"{launcher}/judge.jar"]
        variants = {
            "runner (image, class-path launch, G1, flags as used)": judge(base),
            "image, -m codeeval.judge (no archived module graph)": judge(base, main=["-m", java.JUDGE_MODULE]),
            "image, serial GC (no archived heap objects)": judge(serial),
            "image, serial GC, -m, default thresholds (before)": judge(
                [f for f in serial if not f.startswith("-XX:CompileThresholdScaling")], main=["-m", java.JUDGE_MODULE]),
            "image, default compile thresholds": judge(without("-XX:CompileThresholdScaling")),
            "image, compile thresholds x5": judge([*without("-XX:CompileThresholdScaling"),
                                                   "-XX:CompileThresholdScaling=5"]),
            "image, compile thresholds x20": judge([*without("-XX:CompileThresholdScaling"),
                                                    "-XX:CompileThresholdScaling=20"]),
            "image, -Xint (NOT used: hot loops)": judge([*base, "-Xint"]),
            "image, C2 too (no TieredStopAtLevel=1)": judge(without("-XX:TieredStopAtLevel", "-XX:CICompilerCount")),
            "image, -Xshare:off (no CDS)": judge([*base, "-Xshare:off"]),
            "image, -Xshare:on (forced)": judge([*without("-Xshare"), "-Xshare:on"]),
            "image, G1's own initial heap (no -Xms)": judge(base, memory=[m for m in mem if not m.startswith("-Xms")]),
            "image, default -Xss": judge(without("-Xss")),
            "image, +UsePerfData": judge([*without("-XX:-UsePerfData"), "-XX:+UsePerfData"]),
            "image, no remote verification (NOT used)": judge([*base, "-XX:+UnlockDiagnosticVMOptions",
                                                               "-XX:-BytecodeVerificationRemote"]),
            "image, candidate with indy string concat": judge(base, classes="indy"),
            "JDK java, judge jar on the module path": judge([*base, *on_module_path], jvm="java", main=module_path),
            "floor: image java, class path, no judge/SM": [image_java, *without("-Djava.security"), *mem, "-cp",
                                                           str(tmp / "inline"), "t0.Main"],
            "floor: image java -version": [image_java, *without("-Djava.security", "-ea"), "-version"],
        }
        cpu: dict[str, list[float]] = {k: [] for k in variants}
        wall: dict[str, list[float]] = {k: [] for k in variants}
        order = list(variants)
        shuffle = random.Random(20).shuffle
        for i in range(repeat + 1):
            shuffle(order)  # no variant always runs first (or after the same one) in a round
            for name in order:
                w, c, out = _timed(variants[name], b"t\n")
                if out.returncode != 0 and b"CODEEVAL-DONE" not in out.stderr:
                    raise RuntimeError(f"{name}: {out.stderr[-800:]!r}")
                if i:  # the first round warms the page cache
                    cpu[name].append(c)
                    wall[name].append(w)
        print(f"\nJVM start of the judge, one flag at a time (host, not sandboxed; median of {repeat}; "
              f"load {os.getloadavg()[0]:.1f}):")
        for name in variants:
            print(f"  {name:46s} cpu {statistics.median(cpu[name]):6.1f} ms   "
                  f"wall {statistics.median(wall[name]):6.1f} ms")
        measure_compile(runner, tmp, batch)


def measure_compile(runner: java.JavaRunner, tmp: Path, batch: int) -> None:
    all_tasks = tasks()
    units = [_write_unit(tmp / "many", i, all_tasks[i % len(all_tasks)], runner) for i in range(batch)]
    cold = [_timed(_javac(tmp / "cold" / str(i), units[i], java.INLINE_CONCAT)) for i in range(min(batch, 5))]
    one_w, one_c, out = _timed(_javac(tmp / "batch", [f for u in units for f in u], java.INLINE_CONCAT))
    assert out.returncode == 0, out.stderr[-800:]
    (tmp / "warm").mkdir()
    (tmp / "warm" / "WarmJavac.java").write_text(WARM_JAVAC)
    subprocess.run(["javac", "-d", str(tmp / "warm"), str(tmp / "warm" / "WarmJavac.java")], check=True,
                   capture_output=True, timeout=300)
    args = [",".join([str(tmp / "warmout" / str(i)), *map(str, u)]) for i, u in enumerate(units)]
    w, c, out = _timed(["java", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", str(tmp / "warm"), "WarmJavac",
                        java.JUNIT_JAR, *args])
    assert out.returncode == 0, out.stderr[-800:]
    per = [int(x) / 1000 for x in out.stdout.split()]
    steady = per[3:] or per
    print(f"\ncompile step (host, not sandboxed; load {os.getloadavg()[0]:.1f}):")
    print(f"  javac once per candidate           : cpu {statistics.median(c for _, c, _ in cold):7.1f} ms   "
          f"wall {statistics.median(w for w, _, _ in cold):7.1f} ms per candidate")
    print(f"  one javac for {batch:3d} candidates     : cpu {one_c / batch:7.1f} ms   wall {one_w / batch:7.1f} ms "
          "per candidate")
    print(f"  warm compiler (javax.tools)        : wall {statistics.median(steady):7.1f} ms per candidate after "
          f"3 warm-up compiles, one JVM and file manager\n{'':39s}(first {per[0]:.0f} ms; whole JVM: cpu {c:.0f} ms, "
          f"wall {w:.0f} ms for {batch})")


def _busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine from /proc/stat (every process, not only ours)."""
    with open("/proc/stat") as f:
        fields = [float(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


@dataclass
class Phase:
    """One timed side of one round: wall and CPU ms per candidate, the load average before it and the
    machine's busy cores during it."""

    ms_per_candidate: float
    cpu_ms_per_candidate: float
    load: float
    busy_cores: float
    passed: int
    count: int


async def _phase(body: Callable[[], Awaitable[list[RunResult]]], count: int, meter: CpuMeter) -> Phase:
    load = os.getloadavg()[0]
    b0, t0_jiffies = _busy()
    cpu0 = meter.seconds()
    start = time.perf_counter()
    results = await body()
    wall = time.perf_counter() - start
    cpu = meter.seconds() - cpu0
    b1, t1_jiffies = _busy()
    cores = (os.cpu_count() or 1) * (b1 - b0) / max(1.0, t1_jiffies - t0_jiffies)
    ok = sum(r.outcome is Outcome.PASSED for r in results)
    return Phase(1000 * wall / count, 1000 * cpu / count, load, cores, ok, count)


async def run(n: int, workers: int, flags: bool, repeat: int, flags_only: bool = False, rounds: int = 5,
              single_n: int = 20) -> None:
    meter = CpuMeter()  # first: the sandbox's per-run cgroups are then made inside its group
    engine = Executor(SandboxSettings.load(max_concurrency=workers, dedupe_batch=False))
    await engine.start()
    runner = engine.runners[Language.JAVA]
    assert isinstance(runner, java.JavaRunner)
    single_n = min(single_n, n)
    sides: dict[str, list[Phase]] = {"single": [], "batch": [], "compile": []}
    try:
        if flags_only:
            measure_flags(runner, repeat, min(n, 50))
            return
        # warm-up (page cache, the image's files): one small batch and one single run, not counted
        await _batch(engine, candidates(4, tag="warm"))
        await engine.execute(candidates(1, tag="warm1")[0])
        for r in range(rounds):
            reqs = candidates(n, tag=f"r{r}")
            compile_only = [q.evolve(mode=Mode.COMPILE_ONLY, id=q.id + "c") for q in candidates(n, tag=f"c{r}")]
            single = candidates(single_n, tag=f"s{r}")
            phases = {
                "single": lambda s=single: _gather(engine, s),  # each compiles on its own
                "batch": lambda q=reqs: _batch(engine, q),
                "compile": lambda c=compile_only: _batch(engine, c),
            }
            order = ["single", "batch", "compile"] if r % 2 == 0 else ["batch", "compile", "single"]
            for side in order:
                sides[side].append(await _phase(phases[side], single_n if side == "single" else n, meter))
            s, b, c = (sides[k][-1] for k in ("single", "batch", "compile"))
            print(f"round {r}: single {s.ms_per_candidate:6.1f} ms, cpu {s.cpu_ms_per_candidate:6.1f}"
                  f" (load {s.load:4.1f}, busy {s.busy_cores:3.1f} cores)  batch {b.ms_per_candidate:5.1f} ms,"
                  f" cpu {b.cpu_ms_per_candidate:5.1f} (load {b.load:4.1f}, busy {b.busy_cores:3.1f}), compile step"
                  f" {c.ms_per_candidate:5.1f} ms, cpu {c.cpu_ms_per_candidate:5.1f}  ratio"
                  f" {s.ms_per_candidate / b.ms_per_candidate:5.2f}x, cpu"
                  f" {s.cpu_ms_per_candidate / b.cpu_ms_per_candidate:5.2f}x", flush=True)
        if flags:
            measure_flags(runner, repeat, min(n, 50))
    finally:
        caps = engine.capabilities
        await engine.stop()
        meter.close()
    tools = {name: v for lang in (caps.languages if caps else []) for name, v in lang.toolchain}
    print(json.dumps({"candidates": n, "single_sample": single_n, "rounds": rounds, "workers": workers,
                      "cpus": os.cpu_count(), "load_avg_end": os.getloadavg(), "backend": caps.backend if caps else "",
                      "runtime_image": runner.image_source or "off", "cpu_count": meter.method, "toolchain": tools}))
    if not sides["batch"]:
        return
    med = {k: statistics.median(p.ms_per_candidate for p in v) for k, v in sides.items()}
    cpu = {k: statistics.median(p.cpu_ms_per_candidate for p in v) for k, v in sides.items()}
    ratios = [s.ms_per_candidate / b.ms_per_candidate for s, b in zip(sides["single"], sides["batch"], strict=True)]
    passed = {k: f"{sum(p.passed for p in v)}/{sum(p.count for p in v)}" for k, v in sides.items()}
    loads = [p.load for v in sides.values() for p in v]
    print(f"load average {min(loads):.1f}-{max(loads):.1f} over the rounds")
    print(f"one javac + java per candidate: {med['single']:7.1f} ms/candidate, cpu {cpu['single']:6.1f} ms (median "
          f"of {rounds} rounds of {single_n}; {passed['single']} passed)")
    print(f"batch javac + java each      : {med['batch']:7.1f} ms/candidate, cpu {cpu['batch']:6.1f} ms (median of "
          f"{rounds} batches of {n}; {passed['batch']} passed), of which the compile step {med['compile']:.1f} ms, "
          f"cpu {cpu['compile']:.1f} ms")
    print(f"per-candidate speed-up batch/single: {med['single'] / med['batch']:.2f}x (ratio of the medians; per round "
          f"median {statistics.median(ratios):.2f}x, {min(ratios):.2f}-{max(ratios):.2f}x); CPU "
          f"{cpu['single'] / cpu['batch']:.2f}x  goal >= 7x, issue 20: >= 10x")


async def _gather(engine: Executor, reqs: list[RunRequest]) -> list[RunResult]:
    return list(await asyncio.gather(*(engine.execute(r) for r in reqs)))


async def _batch(engine: Executor, reqs: list[RunRequest]) -> list[RunResult]:
    return [res async for _, res in engine.execute_batch(reqs)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=100)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--flags", action="store_true", help="also measure start-up flags and the compile step")
    parser.add_argument("--repeat", type=int, default=10, help="runs per flag variant (with --flags)")
    parser.add_argument("--flags-only", action="store_true", help="only the flags and the compile step")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds of both sides")
    parser.add_argument("--single", type=int, default=20, help="candidates of the single side per round")
    args = parser.parse_args()
    asyncio.run(run(args.candidates, args.workers, args.flags, args.repeat, args.flags_only, args.rounds, args.single))


if __name__ == "__main__":
    main()
