"""Entry point of the ``codeeval`` console script, and the exit codes every command shares.

Subcommands are the ``register(sub)`` functions of the modules of :mod:`codeeval.cli`. A mistyped
command or choice gets a did-you-mean; an input file that cannot be read ends the command with one
line naming it and exit code 2 (set ``CODEEVAL_DEBUG=1`` for the traceback); so does a local service
that cannot start (its reason and the path of its log).
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import subprocess
import sys
from collections.abc import Sequence
from enum import IntEnum
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import codeeval.cli as cli_pkg
from codeeval.kit.startup import ServiceStartError

if TYPE_CHECKING:
    from codeeval.stats.gate import Verdict


class ExitCode(IntEnum):
    """The exit codes of every ``codeeval`` command (listed in ``codeeval --help``)."""

    OK = 0  # done; for the gate: no regression, or improved
    REGRESSION = 1  # the gate found a regression beyond the margin (a service call that failed, elsewhere)
    USAGE = 2  # bad arguments or input: unknown suite or command, missing or malformed file, bad run folder
    INCONCLUSIVE = 3  # the gate cannot tell: too few items or too close to the margin
    SERVICE_FAILED = 4  # a service failed mid-run; the output folder keeps what is done, rerun to resume
    INTERRUPTED = 130


EPILOG = """exit codes:
  0    done; for a gate (bench, compare): no regression or improved
  1    the gate found a regression beyond the margin (other commands: a service call failed)
  2    usage or input error: unknown command or suite, missing or malformed file, bad run folder;
       or a local service failed its start-up (the reason and its log are printed)
  3    the gate is inconclusive (too few items, or too close to the margin); CI should fail on it
       unless it accepts inconclusive results (--allow-inconclusive where the command has it)
  4    a service failed mid-run; the output folder keeps everything done: rerun to resume
  130  interrupted (resumable like 4)

`codeeval suites power SUITE` says which metrics of a suite can gate at all."""


def gate_exit_code(verdict: Verdict, *, allow_inconclusive: bool = False) -> ExitCode:
    """The exit code of a gate's overall verdict (see :func:`codeeval.stats.gate.overall`)."""
    from codeeval.stats.gate import Verdict

    if verdict is Verdict.REGRESSION:
        return ExitCode.REGRESSION
    if verdict is Verdict.INCONCLUSIVE and not allow_inconclusive:
        return ExitCode.INCONCLUSIVE
    return ExitCode.OK


def version_string() -> str:
    """``codeeval X.Y.Z``, plus ``git describe`` when the package runs from a git checkout."""
    try:
        version = metadata.version("codeeval")
    except metadata.PackageNotFoundError:
        version = "unknown"
    checkout = Path(__file__).resolve().parents[3]
    if (checkout / ".git").exists():
        try:
            out = subprocess.run(["git", "-C", str(checkout), "describe", "--always", "--dirty", "--tags"],
                                 capture_output=True, text=True, timeout=5, check=False)
        except (OSError, subprocess.SubprocessError):
            out = None
        if out is not None and out.returncode == 0 and out.stdout.strip():
            return f"codeeval {version} (git {out.stdout.strip()})"
    return f"codeeval {version}"


class _Version(argparse.Action):
    """``--version``, computed only when asked (it may run git)."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS,
                         help="print the version (and the git commit of a checkout) and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        print(version_string())
        parser.exit()


class Parser(argparse.ArgumentParser):
    """An argument parser whose invalid choices (commands, subcommands) get a did-you-mean."""

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        choices = action.choices
        if choices is not None and value not in choices:
            from codeeval.kit.names import did_you_mean

            known = [str(c) for c in choices]
            raise argparse.ArgumentError(action, f"invalid choice: {value!r}{did_you_mean(str(value), known)}")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="codeeval",
        description="Evaluate fine-tuned code LLMs: train adapters, generate, execute, analyse, compare.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=_Version)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(cli_pkg.__path__), key=lambda m: m.name):
        if info.name in {"main", "__main__"} or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"codeeval.cli.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except ServiceStartError as exc:  # a local service failed its start-up: the reason and its log
        print(f"codeeval {args.command}: error: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    except (OSError, UnicodeDecodeError) as exc:
        # an input file that is missing, unreadable or not text; other OSErrors are bugs: traceback
        filename = getattr(exc, "filename", None)
        if os.environ.get("CODEEVAL_DEBUG") or (isinstance(exc, OSError) and filename is None):
            raise
        what = f"{filename}: {exc.strerror}" if isinstance(exc, OSError) else f"a file is not UTF-8 text: {exc}"
        print(f"codeeval {args.command}: error: {what}", file=sys.stderr)
        return ExitCode.USAGE
