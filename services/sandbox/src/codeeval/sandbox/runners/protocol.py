"""The host side of the harness protocol and the mapping from what a sandbox observed to an Outcome.

Markers (written by the trusted harness to a private duplicate of stderr): START before any
candidate code runs, DONE + the run's random token after every test passed. The token travels as
the first line of stdin and is never in a file the candidate can read. Without START the sandbox
itself failed (SANDBOX_ERROR, retried); without DONE an exit code 0 is an early exit, not a pass.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable

from codeeval.sandbox.backends.base import SandboxCommand
from codeeval.sandbox.model import Outcome, ProcessResult

START = b"\x1eCODEEVAL-START\n"
DONE = b"\n\x1eCODEEVAL-DONE "
EXIT_TEST_FAILED = 101
EXIT_EXCEPTION = 102
EXIT_SYNTAX_ERROR = 103
EXIT_NO_TESTS = 104
#: The Java or C# judge refused the candidate's code (an API it denies, a type that could lie).
EXIT_REFUSED = 105
MEMORY_MARKERS = (b"MemoryError", b"java.lang.OutOfMemoryError", b"OutOfMemoryException")

Execute = Callable[[SandboxCommand], Awaitable[ProcessResult]]


def new_token() -> bytes:
    return secrets.token_hex(16).encode()


def with_token(token: bytes, stdin: bytes) -> bytes:
    return token + b"\n" + stdin


def started(pr: ProcessResult) -> bool:
    return START in pr.stderr[:16384]


def strip_markers(stderr: bytes, token: bytes) -> bytes:
    return stderr.replace(START, b"", 1).replace(DONE + token + b"\n", b"")


def sandbox_decided(pr: ProcessResult, starter: str) -> tuple[Outcome, str] | None:
    """The outcome the sandbox itself observed (its own failure, output, memory, time, or ``starter``
    never starting), decided before anything the run reported; None when the run's own answer counts."""
    is_started = started(pr)
    if pr.sandbox_failure and not is_started:
        return Outcome.SANDBOX_ERROR, pr.sandbox_failure
    if pr.output_exceeded:
        return Outcome.OUTPUT_LIMIT_EXCEEDED, "output exceeded the hard cap; the run was stopped"
    # Memory first: a program that hit the limit may then crawl (reclaim at the cgroup limit) until killed.
    memory_text = any(m in pr.stderr_tail or m in pr.stderr for m in MEMORY_MARKERS)
    if pr.oom_killed or (pr.exit_code != 0 and memory_text):
        return Outcome.MEMORY_EXCEEDED, "memory limit reached"
    if pr.timed_out:
        return Outcome.TIMEOUT, "wall-time limit reached; the run was killed"
    if pr.cpu_exceeded:
        return Outcome.TIMEOUT, "CPU-time limit reached"
    if not is_started:
        return Outcome.SANDBOX_ERROR, f"{starter} never started (exit code {pr.exit_code})"
    return None


def classify(pr: ProcessResult, token: bytes, *, require_done: bool) -> tuple[Outcome, str]:
    """The outcome of one harnessed run and a one-line reason. ``require_done``: the run passes only
    with the DONE marker (test and compile modes); otherwise exit code 0 is enough (run mode)."""
    decided = sandbox_decided(pr, "the harness")
    if decided is not None:
        return decided
    done = (DONE + token + b"\n") in pr.stderr_tail or (DONE + token + b"\n") in pr.stderr
    if pr.exit_code == 0:
        if done or not require_done:
            return Outcome.PASSED, ""
        return Outcome.RUNTIME_ERROR, "exited with code 0 before the tests finished"
    if pr.exit_code == EXIT_TEST_FAILED:
        return Outcome.FAILED, "a test failed"
    if pr.exit_code == EXIT_SYNTAX_ERROR:
        return Outcome.COMPILE_ERROR, "syntax error"
    if pr.exit_code == EXIT_EXCEPTION:
        return Outcome.RUNTIME_ERROR, "uncaught exception"
    if pr.exit_code == EXIT_NO_TESTS:
        return Outcome.RUNTIME_ERROR, "the test class has neither a main method nor JUnit tests"
    if pr.exit_code == EXIT_REFUSED:
        return Outcome.RUNTIME_ERROR, "the judge refused the candidate's code (see stderr)"
    if pr.signal:
        return Outcome.RUNTIME_ERROR, f"killed by signal {pr.signal}"
    return Outcome.RUNTIME_ERROR, f"exited with code {pr.exit_code} before the tests finished"
