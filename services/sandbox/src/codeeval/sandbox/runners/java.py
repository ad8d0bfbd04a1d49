"""Java runner: batch compilation in one javac call, then one sandboxed JVM per candidate.

Each candidate of a batch gets its own package ``c<i>`` (the package clause is prepended on the
first line, so javac's line numbers still match the candidate's text) and its own directory
``src/c<i>/``, so a compile error maps back to its candidate by path. Cost: one javac start-up
(~0.3 s) for the batch plus ~0.1 s of JVM start per candidate, against ~0.55 s per candidate
compiled alone. When javac reports errors, the failing candidates get COMPILE_ERROR and the rest
are compiled again together (javac writes no classes once any unit fails); when javac fails without
attributable errors (a crash, a timeout) every candidate is compiled on its own.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from codeeval.sandbox.backends.base import Bind, SandboxCommand
from codeeval.sandbox.model import Limits, Mode, Outcome, ProcessResult, RunRequest, RunResult
from codeeval.sandbox.runners import protocol
from codeeval.sandbox.runners.base import SUPPORT_DIR, harnessed_result
from codeeval.sandbox.runners.workspace import Workspace, make_writable_dir, write_file

JUNIT_JAR = "/usr/share/java/junit-platform-console-standalone.jar"
JVM_FLAGS = ["-ea", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xshare:auto", "-XX:-UsePerfData",
             "-XX:CICompilerCount=1", "-Xss8m"]
_PUBLIC_TYPE = re.compile(r"^\s*public\s+(?:(?:final|abstract|sealed|static|strictfp)\s+)*"
                          r"(?:class|interface|enum|record|@interface)\s+([A-Za-z_$][\w$]*)", re.M)
_PACKAGE = re.compile(r"^\s*package\s+[\w.]+\s*;", re.M)
_IMPORT = re.compile(r"^\s*import\s+(?:static\s+)?[\w.]+(?:\.\*)?\s*;", re.M)
#: javac's diagnostics start with the file's path; only its ``src/c<i>/`` tail is fixed (the backend
#: decides where /src is mounted).
_ERROR_LINE = re.compile(r"^(?:\S*/)?src/(c\d+)/[^:\n]+:\d+: error:")
_UNIT_PATH = re.compile(r"^(?:\S*/)?src/(c\d+)/")
#: Limits of the one javac run of a batch (it compiles untrusted text, but runs none of it: -proc:none).
COMPILE_LIMITS = Limits(wall_time_ms=120_000, cpu_time_ms=240_000, memory_bytes=2 << 30, output_bytes=1 << 20,
                        max_processes=256, max_file_bytes=64 << 20)


def public_type(text: str) -> str | None:
    m = _PUBLIC_TYPE.search(text)
    return m.group(1) if m else None


def test_class(req: RunRequest) -> str:
    """The class that holds the tests: ``entry_point`` or the test file's public class, else Main."""
    return req.entry_point or public_type(req.test) or "Main"


def in_package(text: str, package: str, imports: str = "") -> str:
    """``text`` moved into ``package`` (with extra ``imports``) without shifting its line numbers."""
    text = _PACKAGE.sub(lambda m: " " * len(m.group(0)), text)
    return f"package {package}; {imports}{text}"


def imports_of(text: str) -> str:
    """The candidate's import statements on one line: HumanEval-X tests rely on the prompt's imports."""
    return " ".join(m.group(0).strip() for m in _IMPORT.finditer(text)) + " "


@dataclass
class _Unit:
    index: int
    req: RunRequest
    package: str
    files: list[Path]


class JavaRunner:
    """Needs the launcher classes (support/*.java), compiled once by :meth:`prepare`."""

    def __init__(self, execute: protocol.Execute, workspace: Workspace, work_dir_bytes: int,
                 output_hard: Callable[[int], int]) -> None:
        self.execute = execute
        self.workspace = workspace
        self.work_dir_bytes = work_dir_bytes
        self.output_hard = output_hard
        self.launcher_dir = workspace.base / "java-launcher"

    def toolchain(self) -> list[tuple[str, str]]:
        javac = subprocess.run(["javac", "-version"], capture_output=True, text=True, timeout=30)
        java = subprocess.run(["java", "-version"], capture_output=True, text=True, timeout=30)
        junit = Path(JUNIT_JAR).resolve().name
        return [("javac", (javac.stdout or javac.stderr).strip().removeprefix("javac ")),
                ("java", java.stderr.splitlines()[0] if java.stderr else ""), ("junit", junit)]

    def prepare(self) -> None:
        """Compile the trusted launcher on the host (our code, not the candidate's)."""
        make_writable_dir(self.launcher_dir)
        sources = [str(p) for p in sorted(SUPPORT_DIR.glob("*.java"))]
        subprocess.run(["javac", "-d", str(self.launcher_dir), "-cp", JUNIT_JAR, *sources], check=True,
                       capture_output=True, timeout=120)
        for p in self.launcher_dir.iterdir():
            p.chmod(0o644)
        self.launcher_dir.chmod(0o755)

    async def run(self, req: RunRequest, limits: Limits) -> RunResult:
        async for _, result in self.run_batch([req], [limits]):
            return result
        raise AssertionError("unreachable")

    async def run_batch(self, reqs: list[RunRequest], limits: list[Limits]) -> AsyncIterator[tuple[int, RunResult]]:
        """Compile all of ``reqs`` together, then run each; yields (position, result) as they finish."""
        with self.workspace.run_dir() as batch_dir:
            units = [self._write_unit(batch_dir, i, r) for i, r in enumerate(reqs)]
            classes = make_writable_dir(batch_dir / "classes")
            errors = await self._compile(batch_dir, units, classes)
            pending = []
            for u in units:
                if u.index in errors:
                    pr, text = errors[u.index]
                    yield u.index, _compile_failure(pr, text, limits[u.index])
                elif u.req.mode is Mode.COMPILE_ONLY:
                    yield u.index, RunResult(outcome=Outcome.PASSED, detail="compiled",
                                             effective_limits=limits[u.index])
                else:
                    pending.append(asyncio.create_task(self._run_unit(classes, u, limits[u.index])))
            try:
                for task in asyncio.as_completed(pending):
                    yield await task
            finally:
                for task in pending:
                    task.cancel()

    def _write_unit(self, batch_dir: Path, index: int, req: RunRequest) -> _Unit:
        package = f"c{index}"
        src = batch_dir / "src" / package
        files = [write_file(src / f"{public_type(req.source) or 'Candidate'}.java", in_package(req.source, package))]
        if req.mode is Mode.RUN_TESTS and req.test:
            name = public_type(req.test) or test_class(req)
            files.append(write_file(src / f"{name}.java", in_package(req.test, package, imports_of(req.source))))
        for rel, text in req.extra_files:
            if rel.endswith(".java"):
                files.append(write_file(src / Path(rel).name, in_package(text, package)))
        return _Unit(index, req, package, files)

    async def _javac(self, batch_dir: Path, units: list[_Unit], classes: Path) -> ProcessResult:
        paths = [f"/src/{f.relative_to(batch_dir / 'src')}" for u in units for f in u.files]
        cmd = SandboxCommand(
            argv=["javac", "-J-Xmx1g", "-J-XX:+UseSerialGC", "-J-XX:TieredStopAtLevel=1",
                  "-XDshould-stop.ifError=FLOW", "-proc:none", "-nowarn", "-encoding", "UTF-8", "-Xmaxerrs", "100000",
                  "-cp", JUNIT_JAR, "-d", "/classes", *paths],
            limits=COMPILE_LIMITS, binds=[Bind(batch_dir / "src", "/src"), Bind(classes, "/classes", writable=True)],
            work_dir_bytes=self.work_dir_bytes, output_hard_bytes=COMPILE_LIMITS.output_bytes * 4,
            limit_address_space=False,
        )
        return await self.execute(cmd)

    async def _compile(self, batch_dir: Path, units: list[_Unit], classes: Path
                       ) -> dict[int, tuple[ProcessResult, str]]:
        """Compile ``units``; returns the failing ones with (javac result, their diagnostics)."""
        failed: dict[int, tuple[ProcessResult, str]] = {}
        todo = list(units)
        for _ in range(4):
            if not todo:
                return failed
            _clear(classes)
            pr = await self._javac(batch_dir, todo, classes)
            if pr.exit_code == 0 and not pr.sandbox_failure:
                return failed
            text = pr.stderr.decode(errors="replace")
            blamed = _attribute(text)
            if not blamed:
                break
            for u in todo:
                if u.package in blamed:
                    failed[u.index] = (pr, blamed[u.package])
            todo = [u for u in todo if u.package not in blamed]
        _clear(classes)
        for u in todo:  # no attributable errors: each candidate on its own, into its own package dir
            pr = await self._javac(batch_dir, [u], classes)
            if pr.exit_code != 0 or pr.sandbox_failure:
                failed[u.index] = (pr, pr.stderr.decode(errors="replace"))
        return failed

    async def _run_unit(self, classes: Path, unit: _Unit, limits: Limits) -> tuple[int, RunResult]:
        token = protocol.new_token()
        heap_mb = max(32, limits.memory_bytes * 3 // 4 >> 20)
        cmd = SandboxCommand(
            argv=["java", *JVM_FLAGS, f"-Xmx{heap_mb}m", "-XX:MaxMetaspaceSize=128m",
                  "-cp", f"/classes:/launcher:{JUNIT_JAR}", "CodeevalLauncher",
                  f"{unit.package}.{test_class(unit.req)}"],
            limits=limits, stdin=protocol.with_token(token, unit.req.stdin),
            binds=[Bind(classes, "/classes"), Bind(self.launcher_dir, "/launcher")],
            work_dir_bytes=self.work_dir_bytes, output_hard_bytes=self.output_hard(limits.output_bytes),
            limit_address_space=False,
        )
        pr = await self.execute(cmd)
        return unit.index, harnessed_result(pr, token, limits, require_done=unit.req.mode is not Mode.RUN)


def _clear(classes: Path) -> None:
    """Empty the class output dir (a previous round's files belong to another sandbox uid)."""
    shutil.rmtree(classes, ignore_errors=True)
    make_writable_dir(classes)


def _attribute(javac_output: str) -> dict[str, str]:
    """Diagnostics per candidate package, from javac's ``/src/c<i>/File.java:LINE: error:`` lines."""
    blocks: dict[str, list[str]] = {}
    current: str | None = None
    for line in javac_output.splitlines():
        m = _ERROR_LINE.match(line)
        if m:
            current = m.group(1)
        elif _UNIT_PATH.match(line):
            current = None
        if current and not re.match(r"^\d+ errors?$", line):
            blocks.setdefault(current, []).append(_UNIT_PATH.sub("", line))
    return {k: "\n".join(v) for k, v in blocks.items()}


def _compile_failure(pr: ProcessResult, text: str, limits: Limits) -> RunResult:
    if pr.sandbox_failure:
        return RunResult(outcome=Outcome.SANDBOX_ERROR, detail=pr.sandbox_failure, effective_limits=limits)
    if pr.timed_out or pr.cpu_exceeded:
        return RunResult(outcome=Outcome.COMPILE_ERROR, detail="javac ran out of time", compile_output=text,
                         effective_limits=limits)
    return RunResult(outcome=Outcome.COMPILE_ERROR, exit_code=pr.exit_code, compile_output=text[:65536],
                     detail="javac reported errors", effective_limits=limits)
