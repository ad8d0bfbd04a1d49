"""Java runner: batch compilation in one javac call, then one sandboxed JVM per candidate.

Each candidate of a batch gets its own package ``c<i>`` and its test another, ``t<i>``, that sees the
candidate only through single-type imports (java_source.py; the package clause and imports go on the
first line, so javac's line numbers still match the texts); sources sit in ``src/c<i>/`` and
``src/t<i>/``, so a compile error maps back to its candidate by path. At run time sample i's class
path holds only ``c<i>`` and ``t<i>``. The judge (support/CodeevalLauncher.java, JudgePolicy.java,
ValueTypes.java) is a named module compiled once per service start into a modular jar runs can read
but not write, run from a jlink'ed runtime image (java_image.py); the JVM resolves java.se and the
judge only (no jdk.unsupported: no ``sun.misc.Unsafe``), and the judge's policy refuses the
candidate exiting, processes, native libraries, class loaders, links, /proc and writes to code (see
the README's threat model). A sample runs as soon as javac has written its classes, while javac
goes on with the rest (``_javac_watched``). Cost on a 2-core machine (bench/sandbox/java_batch.py):
one javac start-up (~0.5 s of CPU) for the batch and ~6 ms of CPU per candidate in it, plus a JVM
per candidate (~40 ms of CPU) and its sandbox (~12 ms, the service's share included), against
~0.7 s per candidate compiled and run alone. When javac reports errors, the failing candidates get COMPILE_ERROR and the
rest are compiled again together (javac writes no classes once any unit fails); when javac fails
without attributable errors (a crash, a compile past its limit) the group is halved until the culprit
is alone, for as long as one javac may take; what is left then is compiled candidate by candidate,
side by side (``_compile``). A javac run is bounded by its candidates' largest wall-time limit plus COMPILE_GRACE_MS and
ends its candidate as COMPILE_ERROR naming that limit; the source checks are linear in the sources'
size (java_source.py) and run off the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
import subprocess
import zipfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from codeeval.sandbox.backends.base import Bind, SandboxCommand
from codeeval.sandbox.model import Limits, Mode, Outcome, ProcessResult, RunRequest, RunResult
from codeeval.sandbox.runners import java_image, java_source, protocol
from codeeval.sandbox.runners.base import SUPPORT_DIR, harnessed_result
from codeeval.sandbox.runners.java_source import JavaIndex
from codeeval.sandbox.runners.workspace import Workspace, make_writable_dir, write_file

_log = logging.getLogger(__name__)
JUNIT_DIR = "/usr/share/java"
JUNIT_JAR = f"{JUNIT_DIR}/junit-platform-console-standalone.jar"
#: Start-up flags, each measured by bench/sandbox/java_batch.py --flags: G1 with one worker of each
#: kind (java_image.GC_FLAGS: the collector JDK 17 maps CDS's archived heap objects and module graph
#: into), C1 only, one compiler thread, compile thresholds scaled up (a short test runs its code in
#: the interpreter rather than compile it; a hot loop is still compiled within milliseconds), no
#: perf-data file. Bytecode verification stays on for every class outside the runtime image (the
#: candidate's and the test's): it is what keeps hand-made bytecode from breaking the JVM's type
#: safety, and so the module and policy walls.
JVM_FLAGS = ["-ea", *java_image.GC_FLAGS, "-XX:TieredStopAtLevel=1", "-XX:CompileThresholdScaling=10",
             "-Xshare:auto", "-XX:-UsePerfData", "-XX:CICompilerCount=1", "-Xss8m", "-XX:ReservedCodeCacheSize=32m",
             "-XX:MaxMetaspaceSize=96m", "-XX:+DisableAttachMechanism", "-Djava.security.manager=allow"]
JUDGE_SOURCES = ("module-info.java", "CodeevalLauncher.java", "JudgePolicy.java", "ValueTypes.java", "JudgeRoot.java")
LAUNCHER = "/launcher"
#: The runtime image (java_image.py), inside the launcher directory.
IMAGE_JAVA = f"{LAUNCHER}/jre/bin/java"
JUDGE_MODULE = "codeeval.judge"
#: The judge's main class: started from the class path in the runtime image (a default root module
#: there), as the module's main class (``-m``) on the module-path launcher.
JUDGE_CLASS = java_image.LAUNCHER_CLASS
JUDGE_MAIN = f"{JUDGE_MODULE}/{JUDGE_CLASS}"
#: javac: string concatenation compiled to StringBuilder calls, not invokedynamic: the same strings,
#: without spinning method-handle classes at the first concatenation of each run (~10-20 ms of CPU).
INLINE_CONCAT = "-XDstringConcat=inline"
#: The code locations the judge's policy trusts (everything else is the candidate's or the test's).
#: (The image's own classes are jrt: locations, trusted as the JDK's; naming it also makes the policy
#: refuse writes under it, beside its read-only bind and modes.)
TRUSTED_ROOTS = f"{LAUNCHER}/judge.jar:{LAUNCHER}/junit:{LAUNCHER}/jre:{JUNIT_DIR}"
#: The JDK's deprecation notice for System.setSecurityManager, printed before any candidate code runs.
#: Both are anchored at a line's start (its blanks excluded), so a match is tried once per line, and
#: the banner's words are found by a lookahead (atomic), once per line: a search that could start
#: anywhere (stderr of ``WARNING: `` repeated), whose ``^\s*`` spanned lines (a test of n newlines:
#: 78 s at 150 KiB) or that retried each word of a line rescanned the rest at each try, O(n^2).
_SM_BANNER = re.compile(rb"(?m)^(?:WARNING: (?=[^\n]*(?:terminally deprecated|setSecurityManager|JudgePolicy))"
                        rb"[^\n]*\n){1,4}")
_PUBLIC_TYPE = re.compile(r"^[^\S\n]*public\s+(?:(?:final|abstract|sealed|static|strictfp)\s+)*"
                          r"(?:class|interface|enum|record|@interface)\s+([A-Za-z_$][\w$]*)", re.M)
#: javac's diagnostics start with the file's path; only its ``src/[ct]<i>/`` tail is fixed (the backend
#: decides where /src is mounted).
_ERROR_LINE = re.compile(r"^(?:\S*/)?src/[ct](\d+)/[^:\n]+:\d+: error:")
_UNIT_PATH = re.compile(r"^(?:\S*/)?src/[ct](\d+)/")
#: How often a batch looks for the units javac has finished writing while it runs (a few stat calls).
WATCH_S = 0.02
#: Limits of a javac run (it compiles untrusted text, but runs none of it: -proc:none); its wall time is
#: cut to ``compile_limits``'s bound, and its CPU time to twice that (javac's GC and compiler threads).
COMPILE_LIMITS = Limits(wall_time_ms=120_000, cpu_time_ms=240_000, memory_bytes=2 << 30, output_bytes=1 << 20,
                        max_processes=256, max_file_bytes=64 << 20)
#: What a compile may take beyond its runs' wall-time limit: javac's start-up (~0.5 s of CPU) on a
#: loaded machine. A compile past it ends its candidates as COMPILE_ERROR naming the limit.
COMPILE_GRACE_MS = 5000
#: A batch's shared compile rounds stop when less than this is left of their time (see _compile).
MIN_ROUND_MS = 1000
#: The longest class list passed as an argument; a longer one goes in the file CLASS_LIST (_class_list).
MAX_ARG_CHARS = 64 << 10
CLASS_LIST = "codeeval-classes.txt"


def public_type(text: str) -> str | None:
    m = _PUBLIC_TYPE.search(text)
    return m.group(1) if m else None


def test_class(req: RunRequest) -> str:
    """The class that holds the tests: ``entry_point`` or the test file's public class, else Main."""
    return req.entry_point or public_type(req.test) or "Main"


@dataclass
class _Unit:
    index: int
    req: RunRequest
    package: str
    files: list[Path]
    main_class: str
    limits: Limits


def compile_limits(wall_time_ms: int) -> Limits:
    """The limits of a javac run whose candidates' largest wall-time limit is ``wall_time_ms``: that
    plus COMPILE_GRACE_MS of wall time (at most COMPILE_LIMITS'), twice it of CPU time."""
    wall = min(COMPILE_LIMITS.wall_time_ms, wall_time_ms + COMPILE_GRACE_MS)
    return Limits(**{**COMPILE_LIMITS.as_dict(), "wall_time_ms": wall, "cpu_time_ms": 2 * wall})


class JavaRunner:
    """Needs the judge (support/*.java) compiled and the JDK indexed once, by :meth:`prepare`."""

    def __init__(self, execute: protocol.Execute, workspace: Workspace, work_dir_bytes: int,
                 output_hard: Callable[[int], int], runtime_image: bool = True,
                 output_in_place: bool | None = None) -> None:
        """``runtime_image``: run the judge from the jlink'ed image (java_image.py) rather than the
        JDK's java with the judge's jar on the module path; off for a backend that copies each run's
        binds (unshare), where the ~100 MB image would be copied per run. ``output_in_place``: javac
        writes into the batch's class directory itself (default: as ``runtime_image``), so samples can
        start while it runs; a backend that copies binds back after the run (unshare) copies them in
        no particular order, so there a batch waits for javac to end."""
        self.execute = execute
        self.runtime_image = runtime_image
        self.output_in_place = runtime_image if output_in_place is None else output_in_place
        #: How the runtime image was provided at start ("cached", "built", ...), "" when not used.
        self.image_source = ""
        self.workspace = workspace
        self.work_dir_bytes = work_dir_bytes
        self.output_hard = output_hard
        self.launcher_dir = workspace.base / "java-launcher"
        self.index = JavaIndex({}, {})

    def toolchain(self) -> list[tuple[str, str]]:
        javac = subprocess.run(["javac", "-version"], capture_output=True, text=True, timeout=30)
        java = subprocess.run(["java", "-version"], capture_output=True, text=True, timeout=30)
        junit = Path(JUNIT_JAR).resolve().name
        return [("javac", (javac.stdout or javac.stderr).strip().removeprefix("javac ")),
                ("java", java.stderr.splitlines()[0] if java.stderr else ""), ("junit", junit)]

    def prepare(self) -> None:
        """Compile the trusted judge on the host (our code, not the candidate's) into a directory that
        runs can read and not write, and index the JDK's and JUnit's types (~3 s, once)."""
        judge, junit, tools = (self.launcher_dir / d for d in ("judge-classes", "junit", "tools"))
        for d in (judge, junit, tools):
            d.mkdir(parents=True, exist_ok=True)
        self.launcher_dir.chmod(0o755)
        javac = ["javac", "-Xlint:-removal", "-nowarn", "-encoding", "UTF-8", INLINE_CONCAT]
        subprocess.run([*javac, "-d", str(judge), *(str(SUPPORT_DIR / f) for f in JUDGE_SOURCES)], check=True,
                       capture_output=True, timeout=120)
        # A modular jar: its module-info lists the packages, so the JVM does not walk a directory; its
        # main class lets jlink pre-compute the module graph of `java -m codeeval.judge`.
        judge_jar = self.launcher_dir / "judge.jar"
        subprocess.run(["jar", "--create", "--file", str(judge_jar), "--main-class",
                        "codeeval.judge.CodeevalLauncher", "-C", str(judge), "."],
                       check=True, capture_output=True, timeout=120)
        if self.runtime_image:
            self._provide_image(judge_jar)
        subprocess.run([*javac, "-d", str(junit), "-cp", JUNIT_JAR, str(SUPPORT_DIR / "JUnitRun.java")], check=True,
                       capture_output=True, timeout=120)
        subprocess.run([*javac, "-d", str(tools), str(SUPPORT_DIR / "JdkIndex.java")], check=True,
                       capture_output=True, timeout=120)
        out = subprocess.run(["java", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "--limit-modules", "java.se",
                              "-cp", str(tools), "JdkIndex"], check=True, capture_output=True, text=True, timeout=120)
        shutil.rmtree(tools)
        shutil.rmtree(judge)
        self.index = build_index(out.stdout.split(), junit_type_names())
        java_image.seal(self.launcher_dir)

    def _provide_image(self, judge_jar: Path) -> None:
        """The runtime image, or (no jlink, a failed build) the module-path launcher, which keeps
        every property at a higher start-up cost; ``image_source`` says which and why."""
        try:
            self.image_source = java_image.provide(judge_jar, [SUPPORT_DIR / f for f in JUDGE_SOURCES],
                                                   self.launcher_dir / "jre")
        except (OSError, subprocess.SubprocessError) as e:
            shutil.rmtree(self.launcher_dir / "jre", ignore_errors=True)
            self.runtime_image = False
            detail = e.stderr.decode(errors="replace")[-300:] if isinstance(e, subprocess.CalledProcessError) else ""
            self.image_source = f"off (the runtime image could not be built: {e} {detail})".strip()
            _log.warning("java: %s; the judge runs from the module path", self.image_source)

    def java_command(self) -> list[str]:
        """The JVM and its flags up to the memory bounds: the runtime image's java, or the JDK's with
        the judge's jar on the module path and java.se added to the graph."""
        if self.runtime_image:
            return [IMAGE_JAVA, *JVM_FLAGS]
        return ["java", *JVM_FLAGS, "--add-modules", "java.se", "--module-path", f"{LAUNCHER}/judge.jar"]

    def judge_main(self) -> list[str]:
        """How the judge is named after the class path: its class in the runtime image (no ``-m``, which
        would turn off CDS's archived module graph), its module's main class on the module path."""
        return [JUDGE_CLASS] if self.runtime_image else ["-m", JUDGE_MAIN]

    async def run(self, req: RunRequest, limits: Limits) -> RunResult:
        async for _, result in self.run_batch([req], [limits]):
            return result
        raise AssertionError("unreachable")

    async def run_batch(self, reqs: list[RunRequest], limits: list[Limits]) -> AsyncIterator[tuple[int, RunResult]]:
        """Compile all of ``reqs`` together, then run each; yields (position, result) as they finish. A
        sample runs as soon as javac has written its classes, while javac goes on with the rest. The
        sources are rewritten and written off the event loop (linear in their size, java_source)."""
        with self.workspace.run_dir() as batch_dir:
            units = await asyncio.to_thread(
                lambda: [self._write_unit(batch_dir, i, r, limits[i]) for i, r in enumerate(reqs)])
            classes = make_writable_dir(batch_dir / "classes")
            pending: list[asyncio.Task[tuple[int, RunResult]]] = []
            compiled: list[_Unit] = []

            def ready(u: _Unit, where: Path) -> None:
                if u.req.mode is Mode.COMPILE_ONLY:
                    compiled.append(u)
                else:
                    own = _own_classes(batch_dir, where, u.index)
                    pending.append(asyncio.create_task(self._run_unit(own, u, limits[u.index])))
            try:
                errors = await self._compile(batch_dir, units, classes, ready)
                for index, (pr, text) in errors.items():
                    yield index, _compile_failure(pr, text, limits[index])
                for u in compiled:
                    yield u.index, RunResult(outcome=Outcome.PASSED, detail="compiled",
                                             effective_limits=limits[u.index])
                for task in asyncio.as_completed(pending):
                    yield await task
            finally:
                for task in pending:
                    task.cancel()

    def _write_unit(self, batch_dir: Path, index: int, req: RunRequest, limits: Limits) -> _Unit:
        package, test_package = f"c{index}", f"t{index}"
        src = batch_dir / "src"
        with_test = req.mode is Mode.RUN_TESTS and bool(req.test)
        units = java_source.rewrite(req.source, req.test if with_test else "", package, test_package, self.index)
        files = [write_file(src / package / units.candidate_file, units.candidate)]
        main_class = f"{package}.{test_class(req)}"
        if with_test:
            name = public_type(req.test) or test_class(req)
            files.append(write_file(src / test_package / f"{name}.java", units.test))
            main_class = f"{test_package}.{test_class(req)}"
        for rel, text in req.extra_files:
            if rel.endswith(".java"):
                extra = f"package {package}; " + java_source.strip_package(text)
                files.append(write_file(src / package / Path(rel).name, extra))
        return _Unit(index, req, package, files, main_class, limits)

    async def _javac(self, batch_dir: Path, units: list[_Unit], classes: Path, cut_ms: int | None = None
                     ) -> ProcessResult:
        """One javac over ``units``, bounded by ``compile_limits`` of their largest wall-time limit (and
        by ``cut_ms`` of wall time, twice it of CPU, when given)."""
        paths = [f"/src/{f.relative_to(batch_dir / 'src')}" for u in units for f in u.files]
        limits = compile_limits(max(u.limits.wall_time_ms for u in units))
        if cut_ms is not None and cut_ms < limits.wall_time_ms:
            limits = Limits(**{**limits.as_dict(), "wall_time_ms": cut_ms, "cpu_time_ms": 2 * cut_ms})
        cmd = SandboxCommand(
            argv=["javac", "-J-Xmx1g", "-J-XX:+UseSerialGC", "-J-XX:TieredStopAtLevel=1", "--limit-modules", "java.se",
                  "-XDshould-stop.ifError=FLOW", INLINE_CONCAT, "-proc:none", "-nowarn", "-encoding", "UTF-8",
                  "-Xmaxerrs", "100000",
                  "-cp", JUNIT_JAR, "-d", "/classes", *paths],
            limits=limits, binds=[Bind(batch_dir / "src", "/src"), Bind(classes, "/classes", writable=True)],
            work_dir_bytes=self.work_dir_bytes, output_hard_bytes=COMPILE_LIMITS.output_bytes * 4,
            limit_address_space=False,
        )
        return await self.execute(cmd)

    async def _compile(self, batch_dir: Path, units: list[_Unit], classes: Path,
                       ready: Callable[[_Unit, Path], None]) -> dict[int, tuple[ProcessResult, str]]:
        """Compile ``units``, handing each one whose classes are written to ``ready`` (most while javac
        still runs, see _javac_watched); returns the failing ones with (javac result, their diagnostics).

        Together first, for as long as one javac of them may take (``compile_limits``): a group javac
        fails without blaming (a crash, a compile past its limit) is halved and each half compiled
        again, down to single candidates, so a hostile candidate costs its batch ~log2(n) javac runs,
        not one per candidate. The candidates still open when that time is up are each compiled alone,
        side by side (in their own class directories), each bounded by its own ``compile_limits``: no
        candidate's compile takes more than about twice its bound, plus its wait for a free slot."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + compile_limits(max(u.limits.wall_time_ms for u in units)).wall_time_ms / 1000
        failed: dict[int, tuple[ProcessResult, str]] = {}
        groups, alone = [list(units)], []
        while groups:
            group = groups.pop()
            rest, pr = await self._compile_group(batch_dir, group, classes, ready, failed, deadline)
            if pr is None:
                alone += rest
            elif len(rest) == 1:
                failed[rest[0].index] = (pr, pr.stderr.decode(errors="replace"))
            elif rest:
                half = len(rest) // 2
                groups += [rest[half:], rest[:half]]
        results = await asyncio.gather(*(self._compile_alone(batch_dir, u, ready) for u in alone))
        for u, alone_pr in zip(alone, results, strict=True):
            if alone_pr is not None:
                text = alone_pr.stderr.decode(errors="replace")
                failed[u.index] = (alone_pr, _attribute(text).get(u.index, text))
        return failed

    async def _compile_group(self, batch_dir: Path, group: list[_Unit], classes: Path,
                             ready: Callable[[_Unit, Path], None], failed: dict[int, tuple[ProcessResult, str]],
                             deadline: float) -> tuple[list[_Unit], ProcessResult | None]:
        """Compile ``group`` until it passes, adding the candidates javac blames to ``failed`` (javac
        writes no classes once any unit fails, so the rest is compiled again, up to 4 rounds), each
        javac cut at ``deadline`` (loop time). Returns the candidates left: with the javac result that
        failed without blaming any of them, or with None when ``deadline`` cut the work short."""
        loop = asyncio.get_running_loop()
        todo = group
        pr = ProcessResult(exit_code=0)
        for _ in range(4):
            if not todo:
                break
            own_ms = compile_limits(max(u.limits.wall_time_ms for u in todo)).wall_time_ms
            left_ms = int((deadline - loop.time()) * 1000)
            if left_ms < MIN_ROUND_MS:
                return todo, None
            _clear(classes)
            pr, started = await self._javac_watched(batch_dir, todo, classes, ready, left_ms)
            todo = todo[started:]
            if pr.exit_code == 0 and not pr.sandbox_failure:
                for u in todo:
                    ready(u, classes)
                return [], pr
            if (pr.timed_out or pr.cpu_exceeded) and left_ms < own_ms:
                return todo, None
            if pr.timed_out or pr.cpu_exceeded or pr.sandbox_failure:
                return todo, pr
            blamed = _attribute(pr.stderr.decode(errors="replace"))
            if not any(u.index in blamed for u in todo):
                return todo, pr
            for u in todo:
                if u.index in blamed:
                    failed[u.index] = (pr, blamed[u.index])
            todo = [u for u in todo if u.index not in blamed]
        return todo, pr

    async def _compile_alone(self, batch_dir: Path, unit: _Unit, ready: Callable[[_Unit, Path], None]
                             ) -> ProcessResult | None:
        """javac over ``unit`` alone, into a class directory of its own; None when it passed (and went
        to ``ready``), else javac's result."""
        classes = make_writable_dir(batch_dir / "alone" / str(unit.index))
        (batch_dir / "alone").chmod(0o755)
        pr = await self._javac(batch_dir, [unit], classes)
        if pr.exit_code == 0 and not pr.sandbox_failure:
            ready(unit, classes)
            return None
        return pr

    async def _javac_watched(self, batch_dir: Path, todo: list[_Unit], classes: Path,
                             ready: Callable[[_Unit, Path], None], cut_ms: int) -> tuple[ProcessResult, int]:
        """One javac over ``todo`` that hands finished units to ``ready`` while it runs. javac writes the
        units' classes in the order of its command line, one file after another, and writes none once
        it has found an error; so when a unit's first package directory appears, every unit before it
        is written in full and compiled without error. A directory scan every WATCH_S; none where the
        output is not written in place. Returns javac's result and how many units, from the front of
        ``todo``, went to ``ready``."""
        if not self.output_in_place:
            return await self._javac(batch_dir, todo, classes, cut_ms), 0
        javac = asyncio.ensure_future(self._javac(batch_dir, todo, classes, cut_ms))
        started = 0
        try:
            while not javac.done():
                await asyncio.wait([javac], timeout=WATCH_S)
                last = started
                while last + 1 < len(todo) and _has_output(classes, todo[last + 1]):
                    last += 1
                for u in todo[started:last]:
                    ready(u, classes)
                started = last
            return javac.result(), started
        finally:
            javac.cancel()

    async def _run_unit(self, classes: Path, unit: _Unit, limits: Limits) -> tuple[int, RunResult]:
        token = protocol.new_token()
        cmd = SandboxCommand(
            argv=[*self.java_command(), *memory_flags(limits.memory_bytes),
                  "-cp", f"/classes:{LAUNCHER}/junit:{JUNIT_JAR}",
                  *self.judge_main(), unit.main_class, TRUSTED_ROOTS, _class_list(classes, unit.package)],
            limits=limits, stdin=protocol.with_token(token, unit.req.stdin),
            binds=[Bind(classes, "/classes"), Bind(self.launcher_dir, LAUNCHER)],
            work_dir_bytes=self.work_dir_bytes, output_hard_bytes=self.output_hard(limits.output_bytes),
            limit_address_space=False,
        )
        pr = await self.execute(cmd)
        # the sample's directories go now, off the event loop and beside the next runs: removing a
        # batch's ~5 directories per sample at its end took ~3 ms each on an ext4 disk, the loop stalled
        await asyncio.to_thread(_remove, [classes, *{f.parent for f in unit.files}])
        result = harnessed_result(pr, token, limits, require_done=unit.req.mode is not Mode.RUN)
        result.stderr = _SM_BANNER.sub(b"", result.stderr, count=1)
        return unit.index, result


def memory_flags(memory_bytes: int) -> list[str]:
    """JVM memory bounds from the run's limit (they hold without cgroups): heap 1/2 of it (starting at
    32 MiB: G1 sets up less for a small first heap, ~2 ms of CPU a run, and grows it on demand), direct
    buffers 1/16 (at least 8 MiB); with metaspace 96 MiB and code cache 32 MiB (JVM_FLAGS) and the
    JVM's own ~40 MiB, a program that fills every pool stays near the limit. Thread stacks: -Xss8m
    each, their number bounded by the backend's process limit."""
    mib = memory_bytes >> 20
    heap = max(32, mib // 2)
    return [f"-Xms{min(32, heap)}m", f"-Xmx{heap}m", f"-XX:MaxDirectMemorySize={max(8, mib // 16)}m"]


def build_index(jdk_types: list[str], junit: dict[str, set[str]]) -> JavaIndex:
    """The index of java_source from ``JdkIndex``'s "package.Type" lines and JUnit's type names."""
    public: dict[str, set[str]] = {}
    for qualified in jdk_types:
        pkg, _, name = qualified.rpartition(".")
        public.setdefault(pkg, set()).add(name)
    names = {pkg: set(v) for pkg, v in public.items()}
    for pkg, v in junit.items():
        names.setdefault(pkg, set()).update(v)
    return JavaIndex({k: frozenset(v) for k, v in public.items()}, {k: frozenset(v) for k, v in names.items()})


def junit_type_names() -> dict[str, set[str]]:
    """package -> top-level type names of the JUnit jars (the console jar and its Class-Path)."""
    out: dict[str, set[str]] = {}
    seen: set[str] = set()
    todo = [JUNIT_JAR]
    while todo:
        jar = todo.pop()
        if jar in seen or not os.path.exists(jar):
            continue
        seen.add(jar)
        with zipfile.ZipFile(jar) as z:
            for n in z.namelist():
                if n.endswith(".class") and "$" not in n and "-" not in n:
                    pkg, _, cls = n[:-6].rpartition("/")
                    out.setdefault(pkg.replace("/", "."), set()).add(cls)
            try:
                manifest = z.read("META-INF/MANIFEST.MF").decode(errors="replace")
            except KeyError:
                continue
        m = re.search(r"^Class-Path:((?:.*\n(?: .*\n)*))", manifest.replace("\r\n", "\n"), re.M)
        if m:
            todo += [p if p.startswith("/") else f"{JUNIT_DIR}/{p}" for p in m.group(1).replace("\n ", "").split()]
    return out


def _class_names(classes: Path, package: str) -> list[str]:
    """The binary names of the classes javac wrote for ``package`` under ``classes``."""
    return sorted(".".join(p.relative_to(classes).with_suffix("").parts) for p in (classes / package).rglob("*.class"))


def _class_list(classes: Path, package: str) -> str:
    """The judge's CLASSES argument: the names, ','-separated; past MAX_ARG_CHARS (the kernel refuses
    one argument over 128 KiB: a candidate of ~10,000 classes was a SANDBOX_ERROR, retried), "@" and
    the path in the run of a file beside its classes that holds them (written here, read-only there)."""
    names = ",".join(_class_names(classes, package))
    if len(names) <= MAX_ARG_CHARS:
        return names
    listing = classes / CLASS_LIST
    listing.write_text(names, encoding="utf-8")
    listing.chmod(0o644)
    return f"@/classes/{CLASS_LIST}"


def _own_classes(batch_dir: Path, classes: Path, index: int) -> Path:
    """A directory with only sample ``index``'s packages (moved out of the batch's class dir)."""
    own = batch_dir / "units" / str(index)
    own.mkdir(parents=True)
    own.chmod(0o755)
    (batch_dir / "units").chmod(0o755)
    for pkg in (f"c{index}", f"t{index}"):
        if (classes / pkg).exists():
            os.rename(classes / pkg, own / pkg)
    return own


def _has_output(classes: Path, unit: _Unit) -> bool:
    """javac has begun writing ``unit``'s classes (it makes a package's directory at its first file)."""
    return (classes / unit.package).is_dir() or (classes / f"t{unit.index}").is_dir()


def _remove(trees: list[Path]) -> None:
    """Remove ``trees`` (what fails is left to the batch directory's own removal)."""
    for tree in trees:
        shutil.rmtree(tree, ignore_errors=True)


def _clear(classes: Path) -> None:
    """Empty the class output dir (a previous round's files belong to another sandbox uid)."""
    shutil.rmtree(classes, ignore_errors=True)
    make_writable_dir(classes)


def _attribute(javac_output: str) -> dict[int, str]:
    """Diagnostics per candidate, from javac's ``/src/[ct]<i>/File.java:LINE: error:`` lines."""
    blocks: dict[int, list[str]] = {}
    current: int | None = None
    for line in javac_output.splitlines():
        m = _ERROR_LINE.match(line)
        if m:
            current = int(m.group(1))
        elif _UNIT_PATH.match(line):
            current = None
        if current is not None and not re.match(r"^\d+ errors?$", line):
            blocks.setdefault(current, []).append(_UNIT_PATH.sub("", line))
    return {k: "\n".join(v) for k, v in blocks.items()}


def _compile_failure(pr: ProcessResult, text: str, limits: Limits) -> RunResult:
    if pr.sandbox_failure:
        return RunResult(outcome=Outcome.SANDBOX_ERROR, detail=pr.sandbox_failure, effective_limits=limits)
    if pr.timed_out or pr.cpu_exceeded:
        bound = compile_limits(limits.wall_time_ms)
        kind, ms = ("wall", bound.wall_time_ms) if pr.timed_out else ("CPU", bound.cpu_time_ms)
        return RunResult(outcome=Outcome.COMPILE_ERROR, compile_output=text[:65536], effective_limits=limits,
                         detail=f"javac ran past its {kind}-time limit of {ms} ms (limits.wall_time_ms "
                                f"{limits.wall_time_ms} ms + {COMPILE_GRACE_MS} ms to compile)")
    return RunResult(outcome=Outcome.COMPILE_ERROR, exit_code=pr.exit_code, compile_output=text[:65536],
                     detail="javac reported errors", effective_limits=limits)
