"""C# runner: Debian's mono ``mcs`` (C# 7.2 at most) compiles candidate + tests + launcher, and
``mono`` runs them, in one sandbox (~0.15 s compile + ~20 ms run). Modern C# (records, switch
expressions) needs the dotnet SDK, which is not in Debian's archive; GetCapabilities says so.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable

from codeeval.sandbox.backends.base import Bind, SandboxCommand
from codeeval.sandbox.model import Limits, Mode, Outcome, RunRequest, RunResult
from codeeval.sandbox.runners import protocol
from codeeval.sandbox.runners.base import CODE_DIR, SUPPORT_DIR, harnessed_result
from codeeval.sandbox.runners.workspace import Workspace, write_file

SCRIPT = """set -u
mcs -nologo -langversion:7.2 -out:/tmp/p.exe -main:CodeevalLauncher "$@" >/tmp/compile.log 2>&1 \
  || { cat /tmp/compile.log >&2; exit 103; }
[ "$MODE" = compile ] && exit 0
exec mono --debug /tmp/p.exe "$CLASS"
"""


class CSharpRunner:
    def __init__(self, execute: protocol.Execute, workspace: Workspace, work_dir_bytes: int,
                 output_hard: Callable[[int], int]) -> None:
        self.execute = execute
        self.workspace = workspace
        self.work_dir_bytes = work_dir_bytes
        self.output_hard = output_hard

    def available(self) -> bool:
        return bool(shutil.which("mcs") and shutil.which("mono"))

    def toolchain(self) -> list[tuple[str, str]]:
        mcs = subprocess.run(["mcs", "--version"], capture_output=True, text=True, timeout=30)
        mono = subprocess.run(["mono", "--version"], capture_output=True, text=True, timeout=30)
        return [("mcs", mcs.stdout.strip().split()[-1] if mcs.stdout else ""),
                ("mono", mono.stdout.splitlines()[0] if mono.stdout else "")]

    async def run(self, req: RunRequest, limits: Limits) -> RunResult:
        token = protocol.new_token()
        with self.workspace.run_dir() as run_dir:
            files = [write_file(run_dir / "Candidate.cs", req.source)]
            if req.mode is Mode.RUN_TESTS and req.test:
                files.append(write_file(run_dir / "Tests.cs", req.test))
            for i, (rel, text) in enumerate(req.extra_files):
                if rel.endswith(".cs"):
                    files.append(write_file(run_dir / f"Extra{i}.cs", text))
            mode = "compile" if req.mode is Mode.COMPILE_ONLY else "run"
            cmd = SandboxCommand(
                argv=["/bin/sh", "-c", SCRIPT, "csharp", *(f"{CODE_DIR}/{f.name}" for f in files),
                      "/harness/CodeevalLauncher.cs"],
                limits=limits, stdin=protocol.with_token(token, req.stdin),
                binds=[Bind(run_dir, CODE_DIR), Bind(SUPPORT_DIR, "/harness")],
                env={"MODE": mode, "CLASS": req.entry_point, "MONO_GC_PARAMS": f"max-heap-size={limits.memory_bytes}"},
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
