"""C# runner: Debian's mono ``mcs`` (C# 7.2 at most) and ``mono``, one sandbox per run.

In the sandbox the candidate compiles alone into a library (``candidate.dll``, its text in its own
namespace: csharp_source.py), the test into another (``tests.dll``, referencing the candidate and the
judge), and the judge (support/CodeevalLauncher.cs + CandidateCheck.cs, compiled once per service
start into a directory runs can read and not write) checks the candidate's IL, then runs the test
type named exactly by ``entry_point`` from ``tests.dll``. Cost: two mcs runs (~0.3 s) + ~30 ms.
Memory: mono's GC heap is capped at half the run's limit (``MONO_GC_PARAMS``). Modern C# (records,
switch expressions) needs the dotnet SDK, which is not in Debian's archive; GetCapabilities says so.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Callable

from codeeval.sandbox.backends.base import Bind, SandboxCommand
from codeeval.sandbox.model import Limits, Mode, Outcome, RunRequest, RunResult
from codeeval.sandbox.runners import csharp_source, protocol
from codeeval.sandbox.runners.base import CODE_DIR, SUPPORT_DIR, harnessed_result
from codeeval.sandbox.runners.workspace import Workspace, write_file

JUDGE_SOURCES = ("CodeevalLauncher.cs", "CandidateCheck.cs")
JUDGE_DIR = "/judge"
#: $1 the judge, $2 the test file (or empty), $3 the entry type, the rest the candidate's files.
SCRIPT = """set -u
judge=$1; tests=$2; entry=$3; shift 3
mcs -nologo -langversion:7.2 -target:library -out:/tmp/candidate.dll "$@" >/tmp/compile.log 2>&1 \\
  || { cat /tmp/compile.log >&2; exit 103; }
[ "$MODE" = compile ] && exit 0
if [ -n "$tests" ]; then
  mcs -nologo -langversion:7.2 -target:library -out:/tmp/tests.dll -r:/tmp/candidate.dll -r:"$judge" "$tests" \\
    >/tmp/compile.log 2>&1 || { cat /tmp/compile.log >&2; exit 103; }
  exec mono --debug "$judge" /tmp/tests.dll "$entry" /tmp/candidate.dll
fi
exec mono --debug "$judge" /tmp/candidate.dll "$entry"
"""


class CSharpRunner:
    """The judge is compiled on first use (~0.7 s, once per service start)."""

    def __init__(self, execute: protocol.Execute, workspace: Workspace, work_dir_bytes: int,
                 output_hard: Callable[[int], int]) -> None:
        self.execute = execute
        self.workspace = workspace
        self.work_dir_bytes = work_dir_bytes
        self.output_hard = output_hard
        self.judge_dir = workspace.trusted_base / "csharp-judge"
        self._prepared = asyncio.Lock()

    def available(self) -> bool:
        return bool(shutil.which("mcs") and shutil.which("mono"))

    def toolchain(self) -> list[tuple[str, str]]:
        mcs = subprocess.run(["mcs", "--version"], capture_output=True, text=True, timeout=30)
        mono = subprocess.run(["mono", "--version"], capture_output=True, text=True, timeout=30)
        return [("mcs", mcs.stdout.strip().split()[-1] if mcs.stdout else ""),
                ("mono", mono.stdout.splitlines()[0] if mono.stdout else "")]

    def prepare(self) -> None:
        """Compile the judge on the host (our code) beside the staged trusted files (the service's,
        dirs 0755 and files 0644: runs can read it, not write it)."""
        self.judge_dir.mkdir(exist_ok=True)
        exe = self.judge_dir / "CodeevalLauncher.exe"
        subprocess.run(["mcs", "-nologo", "-langversion:7.2", f"-out:{exe}",
                        *(str(SUPPORT_DIR / f) for f in JUDGE_SOURCES)], check=True, capture_output=True, timeout=120)
        exe.chmod(0o644)
        self.judge_dir.chmod(0o755)

    async def run(self, req: RunRequest, limits: Limits) -> RunResult:
        async with self._prepared:
            if not (self.judge_dir / "CodeevalLauncher.exe").exists():
                await asyncio.to_thread(self.prepare)
        token = protocol.new_token()
        with_test = req.mode is Mode.RUN_TESTS and bool(req.test)
        with self.workspace.run_dir() as run_dir:
            files = [write_file(run_dir / "Candidate.cs", csharp_source.candidate_text(req.source)),
                     write_file(run_dir / "Internals.cs", csharp_source.INTERNALS)]
            for i, (rel, text) in enumerate(req.extra_files):
                if rel.endswith(".cs"):
                    files.append(write_file(run_dir / f"Extra{i}.cs", csharp_source.candidate_text(text)))
            tests = ""
            if with_test:
                tests = f"{CODE_DIR}/{write_file(run_dir / 'Tests.cs', csharp_source.test_text(req.test)).name}"
            entry = csharp_source.entry_type(
                req.entry_point, csharp_source.TEST_NAMESPACE if with_test else csharp_source.CANDIDATE_NAMESPACE)
            cmd = SandboxCommand(
                argv=["/bin/sh", "-c", SCRIPT, "csharp", f"{JUDGE_DIR}/CodeevalLauncher.exe", tests, entry,
                      *(f"{CODE_DIR}/{f.name}" for f in files)],
                limits=limits, stdin=protocol.with_token(token, req.stdin),
                binds=[Bind(run_dir, CODE_DIR), Bind(self.judge_dir, JUDGE_DIR)],
                env={"MODE": "compile" if req.mode is Mode.COMPILE_ONLY else "run",
                     "MONO_GC_PARAMS": f"max-heap-size={max(16 << 20, limits.memory_bytes // 2)}"},
                work_dir_bytes=self.work_dir_bytes, output_hard_bytes=self.output_hard(limits.output_bytes),
                limit_address_space=False,
            )
            pr = await self.execute(cmd)
        result = harnessed_result(pr, token, limits, require_done=req.mode is Mode.RUN_TESTS)
        if not protocol.started(pr) and not pr.sandbox_failure and not pr.timed_out and not pr.output_exceeded:
            if pr.exit_code == protocol.EXIT_SYNTAX_ERROR:
                result.outcome, result.detail = Outcome.COMPILE_ERROR, "mcs reported errors"
                result.compile_output = pr.stderr.decode(errors="replace")
            elif pr.exit_code == 0 and req.mode is Mode.COMPILE_ONLY:
                result.outcome, result.detail = Outcome.PASSED, "compiled"
        return result
