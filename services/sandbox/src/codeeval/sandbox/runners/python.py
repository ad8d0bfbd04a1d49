"""Python runner: HumanEval-style programs under Debian's python3 in isolated mode.

The program is ``source + test + check(entry_point)`` (the HumanEval concatenation), written to
/code/main.py and run by the trusted harness (support/harness.py). One sandbox per run (~20 ms
overhead under bubblewrap).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable

from codeeval.sandbox.backends.base import Bind, SandboxCommand
from codeeval.sandbox.model import Limits, Mode, RunRequest, RunResult
from codeeval.sandbox.runners import protocol
from codeeval.sandbox.runners.base import CODE_DIR, SUPPORT_DIR, harnessed_result, write_extra_files
from codeeval.sandbox.runners.workspace import Workspace, write_file

PYTHON = "/usr/bin/python3"
HARNESS = "/harness/harness.py"
_MODE_ARG = {Mode.RUN_TESTS: "tests", Mode.RUN: "run", Mode.COMPILE_ONLY: "compile"}


def program_text(req: RunRequest) -> str:
    """The HumanEval concatenation: candidate, tests, then ``check(entry_point)`` when one is named."""
    parts = [req.source]
    if req.mode is Mode.RUN_TESTS and req.test:
        parts.append(req.test)
    if req.mode is Mode.RUN_TESTS and req.entry_point:
        parts.append(f"check({req.entry_point})")
    return "\n\n".join(parts) + "\n"


class PythonRunner:
    def __init__(self, execute: protocol.Execute, workspace: Workspace, work_dir_bytes: int,
                 output_hard: Callable[[int], int]) -> None:
        self.execute = execute
        self.workspace = workspace
        self.work_dir_bytes = work_dir_bytes
        self.output_hard = output_hard

    def toolchain(self) -> list[tuple[str, str]]:
        out = subprocess.run([PYTHON, "--version"], capture_output=True, text=True, timeout=10)
        return [("python3", out.stdout.strip().removeprefix("Python "))]

    async def run(self, req: RunRequest, limits: Limits) -> RunResult:
        token = protocol.new_token()
        with self.workspace.run_dir() as run_dir:
            write_file(run_dir / "main.py", program_text(req))
            write_extra_files(run_dir, req.extra_files)
            cmd = SandboxCommand(
                argv=[PYTHON, "-I", "-B", HARNESS, _MODE_ARG[req.mode], f"{CODE_DIR}/main.py"],
                limits=limits, stdin=protocol.with_token(token, req.stdin),
                binds=[Bind(run_dir, CODE_DIR), Bind(SUPPORT_DIR, "/harness")],
                work_dir_bytes=self.work_dir_bytes, output_hard_bytes=self.output_hard(limits.output_bytes),
                env={"PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0"},
            )
            pr = await self.execute(cmd)
        result = harnessed_result(pr, token, limits, require_done=req.mode is not Mode.RUN)
        if result.outcome.name == "COMPILE_ERROR":
            result.compile_output = result.stderr.decode(errors="replace")
        return result
