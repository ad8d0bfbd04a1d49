"""Java: per-candidate cost of batch mode (one javac for all candidates, then one JVM each) vs one
javac + one java per candidate, both in the same sandbox, in the same run. Prints the ratio.

Candidates are the HumanEval-X-shaped tasks of tests/sandbox/fixtures (reference solutions),
repeated to ``--candidates``, each made distinct by a comment (the executor runs identical programs
of a batch once; that is not what is measured here, and it is also switched off).

``--flags`` also measures, outside the sandbox (the JVM alone, on this host), the judge's JVM start
with each start-up flag changed one at a time (median CPU and wall time of ``--repeat`` runs,
interleaved in a shuffled order), and the compile step: javac once per candidate, one javac for the batch, and a warm
compiler (javax.tools in one long-lived JVM) per candidate.
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
from pathlib import Path

from codeeval.sandbox.executor import Executor
from codeeval.sandbox.model import Language, Limits, Outcome, RunRequest
from codeeval.sandbox.runners import java, java_source
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


def candidates(n: int) -> list[RunRequest]:
    all_tasks = tasks()
    picked = [all_tasks[i % len(all_tasks)] for i in range(n)]
    return [RunRequest(Language.JAVA, t["prompt"] + t["canonical_solution"] + f"\n// candidate {i}\n", t["test"],
                       limits=Limits(wall_time_ms=60_000), id=f"{t['task_id']}#{i}") for i, t in enumerate(picked)]


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
        mem = java.memory_flags(384 << 20)

        def judge(flags: list[str], classes: str = "inline", jvm: str = image_java,
                  module: list[str] | None = None) -> list[str]:
            return [jvm, *flags, *mem, "-cp", f"{tmp / classes}:{launcher}/junit:{java.JUNIT_JAR}",
                    *(module or ["-m", java.JUDGE_MODULE]), "t0.Main", trusted, "c0.Solution,t0.Main"]

        base = java.JVM_FLAGS

        def without(*prefixes: str) -> list[str]:
            return [f for f in base if not f.startswith(prefixes)]

        classlist, archive = tmp / "judge.classlist", tmp / "judge.jsa"
        subprocess.run(judge([*base, f"-XX:DumpLoadedClassList={classlist}"]), input=b"t\n", capture_output=True,
                       timeout=300)
        subprocess.run([image_java, "-XX:+UseSerialGC", "-Xshare:dump", f"-XX:SharedClassListFile={classlist}",
                        f"-XX:SharedArchiveFile={archive}"], capture_output=True, timeout=300)
        module_path = ["-m", java.JUDGE_MAIN]
        variants = {
            "runner (jlink image, CDS, flags as used)": judge(base),
            "JDK java, judge jar on the module path": judge([*base, "--add-modules", "java.se", "--module-path",
                                                              f"{launcher}/judge.jar"], jvm="java", module=module_path),
            "  same, -Xshare:off": judge([*base, "-Xshare:off", "--add-modules", "java.se", "--module-path",
                                          f"{launcher}/judge.jar"], jvm="java", module=module_path),
            "image, -Xshare:off (no CDS)": judge([*base, "-Xshare:off"]),
            "image + AppCDS of the judge's class list": judge([*base, f"-XX:SharedArchiveFile={archive}"]),
            "image, C2 too (no TieredStopAtLevel=1)": judge(without("-XX:TieredStopAtLevel", "-XX:CICompilerCount")),
            "image, G1 (not Serial)": judge([*without("-XX:+UseSerialGC"), "-XX:+UseG1GC"]),
            "image, default -Xss": judge(without("-Xss")),
            "image, +UsePerfData": judge([*without("-XX:-UsePerfData"), "-XX:+UsePerfData"]),
            "image, no remote verification (NOT used)": judge([*base, "-XX:+UnlockDiagnosticVMOptions",
                                                               "-XX:-BytecodeVerificationRemote"]),
            "image, candidate with indy string concat": judge(base, classes="indy"),
            "floor: JDK java, class path, no judge/SM": ["java", *without("-Djava.security"), *mem, "-cp",
                                                         str(tmp / "inline"), "t0.Main"],
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


async def run(n: int, workers: int, flags: bool, repeat: int, flags_only: bool = False) -> None:
    engine = Executor(SandboxSettings.load(max_concurrency=workers, dedupe_batch=False))
    await engine.start()
    reqs = candidates(n)
    try:
        if flags_only:
            runner = engine.runners[Language.JAVA]
            assert isinstance(runner, java.JavaRunner)
            measure_flags(runner, repeat, min(n, 50))
            return
        start = time.perf_counter()
        single = await asyncio.gather(*(engine.execute(r) for r in reqs))  # each compiles on its own
        single_s = time.perf_counter() - start
        start = time.perf_counter()
        batch = [res async for _, res in engine.execute_batch(reqs)]
        batch_s = time.perf_counter() - start
        runner = engine.runners[Language.JAVA]
        assert isinstance(runner, java.JavaRunner)
        if flags:
            measure_flags(runner, repeat, min(n, 50))
    finally:
        caps = engine.capabilities
        await engine.stop()
    ok_single = sum(r.outcome is Outcome.PASSED for r in single)
    ok_batch = sum(r.outcome is Outcome.PASSED for r in batch)
    tools = {n: v for lang in (caps.languages if caps else []) for n, v in lang.toolchain}
    print(json.dumps({"candidates": n, "workers": workers, "cpus": os.cpu_count(), "load_avg": os.getloadavg(),
                      "backend": caps.backend if caps else "", "runtime_image": runner.image_source or "off",
                      "toolchain": tools}))
    print(f"one javac + java per candidate: {1000 * single_s / n:7.1f} ms/candidate "
          f"({single_s:.1f} s, {ok_single}/{n} passed)")
    print(f"batch javac + java each      : {1000 * batch_s / n:7.1f} ms/candidate "
          f"({batch_s:.1f} s, {ok_batch}/{n} passed)")
    print(f"per-candidate speed-up batch/single: {single_s / batch_s:.2f}x  (goal >= 7x, issue 20: >= 10x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=100)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--flags", action="store_true", help="also measure start-up flags and the compile step")
    parser.add_argument("--repeat", type=int, default=10, help="runs per flag variant (with --flags)")
    parser.add_argument("--flags-only", action="store_true", help="only the flags and the compile step")
    args = parser.parse_args()
    asyncio.run(run(args.candidates, args.workers, args.flags, args.repeat, args.flags_only))


if __name__ == "__main__":
    main()
