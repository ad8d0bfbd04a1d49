"""Runs INSIDE the sandbox (Debian's python3 -I): the wrapper around a Python program that is not
judged: MODE_RUN, MODE_COMPILE_ONLY and self-checking programs (MODE_RUN_TESTS with neither test
code nor an entry point). Tests with a ``check(candidate)`` or a table never come here: the judge
decides those (py_judge.py, py_candidate.py). What this wrapper reports is not a test verdict.

usage: harness.py MODE PROGRAM   (MODE: tests | run | compile)

Protocol with the host (see codeeval.sandbox.runners.protocol): the first stdin line is a per-run
random completion token; the rest of stdin is the program's. The harness writes START to a private
duplicate of stderr before the program runs and, in ``tests`` mode, DONE + token only after the
program (candidate, tests and check(entry_point)) returned normally. Exit codes: 101 an
AssertionError (a test failed), 102 any other uncaught exception, 103 a syntax error.
A candidate that calls exit(0) or os._exit(0) early never reaches DONE and so cannot pass. The
candidate shares this interpreter, so a program written to search the harness's memory for the
token is out of scope; the defence is against early exits, not against a debugger.
"""

import contextlib
import os
import sys
import traceback

START = b"\x1eCODEEVAL-START\n"
DONE = b"\n\x1eCODEEVAL-DONE "


def _token() -> bytes:
    buf = bytearray()
    while True:
        ch = os.read(0, 1)
        if not ch or ch == b"\n":
            return bytes(buf)
        buf += ch


def main() -> None:
    secret = _token()
    channel = os.dup(2)
    os.set_inheritable(channel, False)
    os.write(channel, START)
    mode, path = sys.argv[1], sys.argv[2]
    with open(path, encoding="utf-8") as fh:
        source = fh.read()
    try:
        code = compile(source, path, "exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        traceback.print_exc(limit=0)
        os._exit(103)
    if mode == "compile":
        os.write(channel, DONE + secret + b"\n")
        os._exit(0)
    sys.argv = [path]
    namespace = {"__name__": "__main__", "__file__": path, "__builtins__": __builtins__}
    try:
        exec(code, namespace)
    except SystemExit:
        raise
    except AssertionError:
        _leave(101, report=True)
    except BaseException:  # noqa: BLE001 - the candidate's crash is reported, never re-raised
        _leave(102, report=True)
    _flush()
    os.write(channel, DONE + secret + b"\n")
    os._exit(0)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stream.flush()


def _leave(code: int, report: bool) -> None:
    """Exit with ``code`` even when the candidate closed or replaced stdout/stderr."""
    if report:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            traceback.print_exc()
    _flush()
    os._exit(code)


if __name__ == "__main__":
    main()
