"""Python runner: the judge decides test verdicts; MODE_RUN and MODE_COMPILE_ONLY run as programs.

- MODE_RUN_TESTS with test code, an entry point or an input table: *judged*. The candidate
  source alone is imported in the sandbox by support/py_candidate.py (Debian's python3 -I), which
  then answers calls over a socket passed in as an extra fd; the test code runs in a warm judge
  process outside the sandbox (judge.py, support/py_judge.py) that calls the candidate through
  proxies and decides the verdict from decoded values. Nothing the candidate prints, exits with
  or writes on the channel can make it pass: only correct answers do.
- MODE_RUN_TESTS without test code (a self-checking program), MODE_RUN and MODE_COMPILE_ONLY:
  the program runs under support/harness.py as before. These are *not* test verdicts: a program
  that carries its own asserts can skip them; PASSED means "it ran to the end" (exit 0 for
  MODE_RUN, "it parsed" for MODE_COMPILE_ONLY).

Costs: one sandbox per run (~20 ms under bubblewrap), plus one fork in the slot's judge and a
Unix-socket round trip per call.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from codeeval.kit.errors import check_max, require
from codeeval.sandbox.backends.base import Bind, SandboxCommand, ZygoteProgram
from codeeval.sandbox.model import Limits, Mode, Outcome, ProcessResult, RunRequest, RunResult
from codeeval.sandbox.runners import protocol
from codeeval.sandbox.runners.base import CODE_DIR, SUPPORT_DIR, harnessed_result, write_extra_files
from codeeval.sandbox.runners.judge import JUDGE_MEMORY_EXTRA, JudgePool
from codeeval.sandbox.runners.workspace import Workspace, write_file

PYTHON = "/usr/bin/python3"
HARNESS = "/harness/harness.py"
#: Where a judged run finds the candidate worker (py_candidate and py_codec, compiled).
WORKER = "/worker"
WORKER_FILES = ("py_candidate", "py_codec")
#: The worker's interpreter flags: isolated, no bytecode writes, and no site start-up (-S: the
#: worker adds the site directories itself and runs no .pth file or sitecustomize; see py_candidate).
WORKER_FLAGS = ("-I", "-S", "-B")
#: Backends that cannot pass an fd (docker): the channel is a Unix socket in the run dir (read-only
#: binds do not stop a connect) and the worker's .pyc files are copied there.
SOCKET = "judge.sock"
WORKER_COPY = ".worker"
_COMPILE = "import py_compile, sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2], dfile=sys.argv[3], doraise=True)"
_MODE_ARG = {Mode.RUN_TESTS: "tests", Mode.RUN: "run", Mode.COMPILE_ONLY: "compile"}
#: How long the judge may take to report once the candidate's sandbox has ended.
JUDGE_GRACE_S = 5.0
MAX_TABLE_INPUTS = 10_000
_VERDICTS = {"PASSED": Outcome.PASSED, "FAILED": Outcome.FAILED, "COMPILE_ERROR": Outcome.COMPILE_ERROR,
             "RUNTIME_ERROR": Outcome.RUNTIME_ERROR, "MEMORY_EXCEEDED": Outcome.MEMORY_EXCEEDED,
             "JUDGE_MEMORY": Outcome.MEMORY_EXCEEDED}


def program_text(req: RunRequest) -> str:
    """The HumanEval concatenation (self-checking programs only): candidate, tests, ``check(entry_point)``."""
    parts = [req.source]
    if req.mode is Mode.RUN_TESTS and req.test:
        parts.append(req.test)
    if req.mode is Mode.RUN_TESTS and req.entry_point:
        parts.append(f"check({req.entry_point})")
    return "\n\n".join(parts) + "\n"


def is_judged(req: RunRequest) -> bool:
    return req.mode is Mode.RUN_TESTS and bool(req.test or req.entry_point or req.table)


def validate_table(req: RunRequest, where: str, max_bytes: int) -> None:
    """Raise InvalidArgument naming the field when ``req.table`` cannot be judged."""
    if req.table is None:
        return
    t, p = req.table, f"{where}program.table"
    require(req.mode is Mode.RUN_TESTS, f"{where}program.mode", "an input table needs MODE_RUN_TESTS")
    require(bool(req.entry_point), f"{where}program.entry_point", "an input table needs the function's name")
    require(not req.test, f"{where}program.test", "give either test code or an input table, not both")
    require(bool(t.reference_source.strip()), f"{p}.reference_source", "must not be empty")
    check_max(f"{p}.reference_source", len(t.reference_source.encode()), max_bytes, "bytes")
    require(bool(t.inputs), f"{p}.inputs", "must hold at least one input")
    check_max(f"{p}.inputs", len(t.inputs), MAX_TABLE_INPUTS, "inputs")
    check_max(f"{p}.inputs", sum(len(i.encode()) for i in t.inputs), max_bytes, "bytes")
    require(t.atol >= 0 and t.atol == t.atol, f"{p}.atol", "must be a number >= 0")
    for i, raw in enumerate(t.inputs):
        try:
            args = json.loads(raw)
        except ValueError as exc:
            require(False, f"{p}.inputs[{i}]", f"must be a JSON array of arguments ({exc})")
        require(type(args) is list, f"{p}.inputs[{i}]", "must be a JSON array of arguments")


def judged_result(pr: ProcessResult, verdict: dict[str, object] | None, limits: Limits) -> RunResult:
    """The outcome of a judged run: PASSED only on the judge's word with the sandbox inside its limits;
    otherwise the sandbox's own observation (output, memory, time) first, then the judge's verdict."""
    outcome, detail = _judged_outcome(pr, verdict)
    return RunResult(
        outcome=outcome, exit_code=pr.exit_code, signal=pr.signal, stdout=pr.stdout,
        stderr=pr.stderr.replace(protocol.START, b"", 1), stdout_truncated=pr.stdout_truncated,
        stderr_truncated=pr.stderr_truncated, wall_time_ms=pr.wall_time_ms, cpu_time_ms=pr.cpu_time_ms,
        peak_memory_bytes=pr.peak_memory_bytes, detail=detail, effective_limits=limits,
    )


def _judged_outcome(pr: ProcessResult, verdict: dict[str, object] | None) -> tuple[Outcome, str]:
    decided = protocol.sandbox_decided(pr, "the candidate worker")
    if decided is not None:
        return decided
    if verdict is None:
        return Outcome.SANDBOX_ERROR, "the judge ended without a verdict"
    kind, detail = str(verdict.get("verdict")), str(verdict.get("detail", ""))[:1000]
    if kind == "GONE":
        how = f"killed by signal {pr.signal}" if pr.signal else f"exit code {pr.exit_code}"
        return Outcome.RUNTIME_ERROR, f"{detail} ({how})"
    if kind in _VERDICTS:
        return _VERDICTS[kind], detail
    return Outcome.SANDBOX_ERROR, detail or f"unknown judge verdict {kind[:40]}"


def _judge_unavailable(limits: Limits, detail: str) -> RunResult:
    return RunResult(outcome=Outcome.SANDBOX_ERROR, exit_code=-1, detail=detail[:500], effective_limits=limits)


class PythonRunner:
    def __init__(self, execute: protocol.Execute, workspace: Workspace, work_dir_bytes: int,
                 output_hard: Callable[[int], int], *, judge_slots: int = 2, uid_base: int = 61000,
                 channel_by_path: bool = False, zygote: Callable[[], bool] = lambda: False) -> None:
        self.execute = execute
        self.workspace = workspace
        self.work_dir_bytes = work_dir_bytes
        self.output_hard = output_hard
        self.judges = JudgePool(judge_slots, uid_base, self.support_dir)
        self._worker: Path | None = None
        self._worker_lock = threading.Lock()
        self._binds: tuple[tuple[Bind, ...], Path] | None = None
        #: the backend cannot pass an fd into the sandbox (see SOCKET)
        self.channel_by_path = channel_by_path
        #: whether the backend runs a ``ZygoteProgram`` through its zygote now (asked per run)
        self.zygote = zygote

    def support_dir(self) -> Path:
        """Where the judge reads py_judge.py: the workspace's staged copy when there is one."""
        return self.workspace.trusted.get(SUPPORT_DIR.resolve(), SUPPORT_DIR)

    def toolchain(self) -> list[tuple[str, str]]:
        out = subprocess.run([PYTHON, "--version"], capture_output=True, text=True, timeout=10)
        return [("python3", out.stdout.strip().removeprefix("Python "))]

    def close(self) -> None:
        self.judges.close()
        if self._worker is not None:
            shutil.rmtree(self._worker, ignore_errors=True)

    def worker_dir(self) -> Path:
        """The candidate worker as .pyc files, compiled once by the sandbox's own python3 (a run
        then unmarshals them instead of compiling ~300 lines: about 5 ms of every run's CPU) into a
        directory every run uid can read. Raises OSError / CalledProcessError if it cannot."""
        with self._worker_lock:
            if self._worker is None:
                out = Path(tempfile.mkdtemp(prefix="codeeval-pyworker-"))
                out.chmod(0o755)
                for name in WORKER_FILES:
                    subprocess.run([PYTHON, "-I", "-c", _COMPILE, str(self.support_dir() / f"{name}.py"),
                                    str(out / f"{name}.pyc"), f"{WORKER}/{name}.py"],
                                   check=True, capture_output=True, timeout=60)
                    os.chmod(out / f"{name}.pyc", 0o644)
                self._worker = out
            return self._worker

    async def run(self, req: RunRequest, limits: Limits) -> RunResult:
        result = await (self._judged(req, limits) if is_judged(req) else self._harnessed(req, limits))
        if result.outcome is Outcome.COMPILE_ERROR:
            result.compile_output = result.stderr.decode(errors="replace") or result.detail
        return result

    def _command(self, argv: list[str], run_dir: Path, limits: Limits, stdin: bytes,
                 pass_fds: tuple[int, ...] = ()) -> SandboxCommand:
        return SandboxCommand(
            argv=argv, limits=limits, stdin=stdin, binds=[Bind(run_dir, CODE_DIR), Bind(SUPPORT_DIR, "/harness")],
            work_dir_bytes=self.work_dir_bytes, output_hard_bytes=self.output_hard(limits.output_bytes),
            env={"PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0"}, pass_fds=pass_fds,
        )

    async def _judged(self, req: RunRequest, limits: Limits) -> RunResult:
        request: dict[str, object] = {
            "kind": "table" if req.table else "check", "test": req.test, "entry_point": req.entry_point,
            "memory_bytes": limits.memory_bytes + JUDGE_MEMORY_EXTRA, "cpu_s": -(-limits.cpu_time_ms // 1000) + 1,
            "file_bytes": limits.max_file_bytes, "wall_s": limits.wall_time_ms / 1000 + JUDGE_GRACE_S,
        }
        if req.table is not None:
            request.update(reference=req.table.reference_source, inputs=list(req.table.inputs), atol=req.table.atol)
        try:
            worker = self._worker if self._worker is not None else await asyncio.to_thread(self.worker_dir)
        except (OSError, subprocess.SubprocessError) as exc:
            return _judge_unavailable(limits, f"the candidate worker could not be prepared: {exc}")
        if not req.extra_files and not self.channel_by_path and self.zygote():
            # the zygote writes the source into the run's own tmpfs: no run directory on the host
            return await self._judged_in(None, req, limits, request, worker)
        with self.workspace.run_dir() as run_dir:
            write_file(run_dir / "main.py", req.source)
            write_extra_files(run_dir, req.extra_files)
            return await self._judged_in(run_dir, req, limits, request, worker)

    async def _judged_in(self, run_dir: Path | None, req: RunRequest, limits: Limits, request: dict[str, object],
                         worker: Path) -> RunResult:
        """One judged run; ``run_dir`` None: the zygote's path, where the run needs no host files."""
        listener = _listen(run_dir, worker) if self.channel_by_path and run_dir is not None else None
        try:
            async with self.judges.run(request, listener) as run:
                fds: tuple[int, ...] = ()
                if listener is None:
                    channel, fds, worker_at = str(run.candidate_fd), (run.candidate_fd,), WORKER
                else:
                    channel, fds, worker_at = f"unix:{CODE_DIR}/{SOCKET}", (), f"{CODE_DIR}/{WORKER_COPY}"
                argv = [PYTHON, *WORKER_FLAGS, f"{worker_at}/py_candidate.pyc", channel, f"{CODE_DIR}/main.py"]
                if run_dir is None:
                    cmd = SandboxCommand(argv=argv, limits=limits, stdin=req.stdin, work_dir_bytes=self.work_dir_bytes,
                                         output_hard_bytes=self.output_hard(limits.output_bytes), pass_fds=fds)
                else:
                    cmd = self._command(argv, run_dir, limits, req.stdin, fds)
                if listener is None:
                    cmd.binds.append(Bind(worker, WORKER))
                    if not req.extra_files:  # the zygote's run has main.py alone
                        cmd.zygote = ZygoteProgram(req.source, run.candidate_fd, self._zygote_binds(worker))
                pr = await self.execute(cmd)
                run.release_candidate()
                if listener is not None and run_dir is not None:
                    _knock(run_dir / SOCKET)
                over = pr.timed_out or pr.cpu_exceeded or pr.output_exceeded or pr.oom_killed
                verdict = None if over else await run.verdict(JUDGE_GRACE_S)  # the sandbox decided
        except OSError as exc:  # the judge could not be started or reached
            return _judge_unavailable(limits, f"no judge: {exc}")
        finally:
            if listener is not None:
                listener.close()
        return judged_result(pr, verdict, limits)

    def _zygote_binds(self, worker: Path) -> tuple[Bind, ...]:
        """The zygote's trusted binds (the same tuple for every run: the backend compares them)."""
        if self._binds is None or self._binds[1] != worker:
            self._binds = ((Bind(self.support_dir(), "/harness"), Bind(worker, WORKER)), worker)
        return self._binds[0]

    async def _harnessed(self, req: RunRequest, limits: Limits) -> RunResult:
        token = protocol.new_token()
        with self.workspace.run_dir() as run_dir:
            write_file(run_dir / "main.py", program_text(req))
            write_extra_files(run_dir, req.extra_files)
            argv = [PYTHON, "-I", "-B", HARNESS, _MODE_ARG[req.mode], f"{CODE_DIR}/main.py"]
            pr = await self.execute(self._command(argv, run_dir, limits, protocol.with_token(token, req.stdin)))
        return harnessed_result(pr, token, limits, require_done=req.mode is not Mode.RUN)


def _listen(run_dir: Path, worker: Path) -> socket.socket:
    """A listening socket at ``run_dir/SOCKET`` that any run uid may connect to, and the worker's
    .pyc files beside it (the path-channel mode)."""
    (run_dir / WORKER_COPY).mkdir(mode=0o755)
    for name in WORKER_FILES:
        shutil.copyfile(worker / f"{name}.pyc", run_dir / WORKER_COPY / f"{name}.pyc")
        os.chmod(run_dir / WORKER_COPY / f"{name}.pyc", 0o644)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(run_dir / SOCKET))
        os.chmod(run_dir / SOCKET, 0o666)
        sock.listen(1)
    except OSError:
        sock.close()
        raise
    return sock


def _knock(path: Path) -> None:
    """Connect once and hang up: a judge still waiting for the candidate sees an ended channel."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.setblocking(False)
    with contextlib.suppress(OSError):
        sock.connect(str(path))
    sock.close()
